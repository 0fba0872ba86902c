/**
 * Slack channel names: lowercase letters, digits, hyphen and underscore; at most 80 characters.
 */
export const MAX_CHANNEL_NAME = 80;

export function slugify(text: string, max = 40): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '');
  return slug.slice(0, max).replace(/[-_]+$/g, '') || 'incident';
}

export interface ChannelNameVars {
  date: Date;
  title: string;
  seq: number;
  severity: string;
}

/**
 * Render a channel name template. Placeholders: {date} (YYYYMMDD, UTC), {slug}, {seq}, {severity}.
 * The result is forced into Slack's alphabet and length.
 */
export function renderChannelName(template: string, v: ChannelNameVars): string {
  const d = v.date;
  const yyyymmdd = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  const raw = template
    .replaceAll('{date}', yyyymmdd)
    .replaceAll('{seq}', String(v.seq))
    .replaceAll('{severity}', v.severity)
    .replaceAll('{slug}', slugify(v.title, 60));
  return sanitizeChannelName(raw);
}

export function sanitizeChannelName(raw: string): string {
  const clean = raw
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '');
  return clean.slice(0, MAX_CHANNEL_NAME).replace(/[-_]+$/g, '');
}

/** `name`, then `name-2`, `name-3`, ... always within 80 characters. */
export function withCollisionSuffix(name: string, attempt: number): string {
  if (attempt <= 1) return name;
  const suffix = `-${attempt}`;
  return name.slice(0, MAX_CHANNEL_NAME - suffix.length).replace(/[-_]+$/g, '') + suffix;
}
