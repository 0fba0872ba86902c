/**
 * Slack message text as Slack shows it where no rich client renders it (notifications, pin
 * previews, the channel's message list in a plain view): `<!date^secs^format|fallback>` becomes its
 * fallback, mentions become `@name` / `#channel`, links their label, and entities are decoded.
 * Slack's own rule for date tokens is the same: a client that cannot format the date in the
 * reader's time zone shows the fallback.
 */
export function plainSlackText(text: string, names: { user?: (id: string) => string | undefined; channel?: (id: string) => string | undefined } = {}): string {
  return text
    .replace(/<([^<>\n]+)>/g, (_m, inner: string) => {
      const bar = inner.indexOf('|');
      const [target, label] = bar >= 0 ? [inner.slice(0, bar), inner.slice(bar + 1)] : [inner, null];
      if (target.startsWith('!date^')) return label ?? '';
      if (target.startsWith('@')) return `@${label || names.user?.(target.slice(1)) || target.slice(1)}`;
      if (target.startsWith('#')) return `#${label || names.channel?.(target.slice(1)) || target.slice(1)}`;
      if (target.startsWith('!subteam^')) return label || `@${target.slice(9)}`;
      if (target.startsWith('!')) return `@${label || target.slice(1)}`;
      return label || target;
    })
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
