import { formatUtc } from '../../domain/time.js';
import type { Block } from '../../ports/chat.js';
import { isSlackId } from '../ids.js';
import { escapeText, safeUrl } from '../mrkdwn.js';

export { escapeText };

/** Small pure helpers for Block Kit; every builder clips to Slack's limits instead of failing. */
export const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);
export const plain = (text: string, n = 150) => ({ type: 'plain_text', text: clip(text, n), emoji: true });
export const mrkdwn = (text: string) => ({ type: 'mrkdwn', text: clip(text, 3000) });

export const header = (text: string, blockId?: string): Block => ({ type: 'header', text: plain(text, 150), ...(blockId ? { block_id: blockId } : {}) });
export const section = (text: string, blockId?: string): Block => ({ type: 'section', text: mrkdwn(text), ...(blockId ? { block_id: blockId } : {}) });
export const fields = (pairs: [string, string][], blockId?: string): Block => ({
  type: 'section',
  fields: pairs.slice(0, 10).map(([k, v]) => ({ type: 'mrkdwn', text: clip(`*${k}*\n${v}`, 2000) })),
  ...(blockId ? { block_id: blockId } : {}),
});
export const context = (text: string): Block => ({ type: 'context', elements: [mrkdwn(text)] });
export const divider = (): Block => ({ type: 'divider' });

export interface ButtonSpec {
  text: string;
  actionId: string;
  value?: string;
  style?: 'primary' | 'danger';
  url?: string;
}
export const button = (b: ButtonSpec) => ({
  type: 'button',
  text: plain(b.text, 75),
  action_id: b.actionId,
  ...(b.value !== undefined ? { value: clip(b.value, 2000) } : {}),
  ...(b.style ? { style: b.style } : {}),
  ...(b.url ? { url: b.url } : {}),
});
export const actions = (blockId: string, buttons: ButtonSpec[]): Block => ({ type: 'actions', block_id: blockId, elements: buttons.slice(0, 25).map(button) });

/** Trusted formatting, from typed values only: a user id the bot resolved, a channel it made, a URL it checked. */
export const user = (id: string | null | undefined) => (id && isSlackId(id) ? `<@${id}>` : id ? escapeText(id) : '_unassigned_');
export const channelLink = (id: string | null | undefined, name?: string | null) =>
  id && isSlackId(id) ? `<#${id}${name ? `|${escapeText(name).replace(/\|/g, '')}` : ''}>` : '_no channel_';
/** A link the bot writes: shown with its label only when the URL is a checked http(s) URL. */
export const link = (url: string | null | undefined, label: string) => {
  const u = safeUrl(url);
  return u ? `<${u}|${escapeText(label).replace(/\|/g, '')}>` : escapeText(label);
};
/**
 * Every time Firebreak shows in Slack: a `<!date>` token each reader's client renders in their own
 * time zone ("Today 14:05"), with the UTC time as the fallback for clients that cannot.
 */
export const time = (d: Date) => `<!date^${Math.floor(d.getTime() / 1000)}^{date_short_pretty} {time}|${formatUtc(d)}>`;
