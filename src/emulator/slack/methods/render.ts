import type { EmuChannel, EmuMessage, EmuView } from '../types.js';
import type { WorkspaceState } from '../state.js';

/**
 * How stored objects look on the wire. Channels drop their message store and member list
 * (Slack's conversations.info has neither); views drop emulator bookkeeping.
 */
export function renderChannel(ch: EmuChannel, viewer: string, opts: { numMembers?: boolean } = {}): Record<string, unknown> {
  const { messages: _m, pins: _p, bookmarks: _b, members, ...rest } = ch;
  return {
    ...rest,
    name_normalized: ch.name,
    is_member: members.includes(viewer),
    ...(opts.numMembers ? { num_members: members.length } : {}),
  };
}

export function renderMessage(state: WorkspaceState, m: EmuMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { ...m };
  if (m.bot_id) {
    out.bot_profile = { id: state.botId, app_id: state.appId, name: 'Firebreak', team_id: state.teamId, deleted: false };
  }
  return structuredClone(out);
}

export function renderView(v: EmuView): Record<string, unknown> {
  const { user_id: _u, open: _o, ...rest } = v;
  return structuredClone(rest);
}

export function permalink(state: WorkspaceState, channel: string, ts: string, threadTs?: string): string {
  const base = `https://${state.teamDomain}.slack.com/archives/${channel}/p${ts.replace('.', '')}`;
  return threadTs && threadTs !== ts ? `${base}?thread_ts=${threadTs}&cid=${channel}` : base;
}

/** Opaque cursors like Slack's: base64 of a position. */
export function encodeCursor(pos: string): string {
  return Buffer.from(`pos:${pos}`).toString('base64');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (!cursor) return undefined;
  const text = Buffer.from(cursor, 'base64').toString('utf8');
  return text.startsWith('pos:') ? text.slice(4) : undefined;
}

/** Offset pagination over a list, for the list methods. */
export function page<T>(items: T[], limit: number, cursor: string | undefined): { items: T[]; nextCursor: string } {
  const start = Number(decodeCursor(cursor) ?? 0) || 0;
  const slice = items.slice(start, start + limit);
  const next = start + limit < items.length ? encodeCursor(String(start + limit)) : '';
  return { items: slice, nextCursor: next };
}
