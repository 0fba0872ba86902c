import { z } from 'zod';
import { SlackApiError } from './args.js';
import { checkContent } from './methods/chat.js';
import type { WorkspaceState } from './state.js';

/**
 * What Slack does with a POST to a response_url (from a slash command or an interaction):
 * `delete_original`, `replace_original` (the message the interaction came from),
 * `response_type: in_channel` (posted to the channel as the app), else an ephemeral to the user.
 * A URL works 5 times within 30 minutes, as Slack documents.
 */
export const RESPONSE_URL_MAX_USES = 5;
export const RESPONSE_URL_TTL_MS = 30 * 60 * 1000;

const ResponseBody = z.object({
  text: z.string().optional(),
  blocks: z.array(z.unknown()).optional(),
  attachments: z.array(z.unknown()).optional(),
  response_type: z.enum(['in_channel', 'ephemeral']).optional(),
  replace_original: z.boolean().optional(),
  delete_original: z.boolean().optional(),
  thread_ts: z.string().optional(),
});

export function handleResponseUrl(state: WorkspaceState, id: string, body: unknown): { status: number; body: Record<string, unknown> } {
  const rec = state.responseUrls.get(id);
  const record = (ok: boolean, error?: string) => state.responsePosts.push({ id, at: state.clock(), body, ok, ...(error ? { error } : {}) });
  const fail = (status: number, error: string) => {
    record(false, error);
    state.emit({ kind: 'response_url.posted', detail: { id, ok: false, error } });
    return { status, body: { ok: false, error } };
  };
  if (!rec) return fail(404, 'no_such_url');
  if (state.clock() - rec.issuedAt > RESPONSE_URL_TTL_MS) return fail(404, 'expired_url');
  if (rec.uses >= RESPONSE_URL_MAX_USES) return fail(404, 'used_url');
  const parsed = ResponseBody.safeParse(body);
  if (!parsed.success) return fail(400, 'invalid_payload');
  const b = parsed.data;
  rec.uses += 1;
  try {
    if (b.delete_original) {
      if (rec.messageTs) state.deleteMessage(rec.channel, rec.messageTs, state.botUserId);
    } else {
      checkContent(b);
      if (b.replace_original && rec.messageTs && state.message(rec.channel, rec.messageTs)) {
        state.updateMessage(rec.channel, rec.messageTs, {
          by: state.botUserId,
          text: b.text ?? '',
          ...(b.blocks ? { blocks: b.blocks } : {}),
        });
      } else if (b.response_type === 'in_channel') {
        state.postMessage(rec.channel, {
          user: state.botUserId,
          asBot: true,
          text: b.text ?? '',
          ...(b.blocks ? { blocks: b.blocks } : {}),
          ...(b.thread_ts ? { threadTs: b.thread_ts } : {}),
        });
      } else {
        state.addEphemeral({
          channel: rec.channel,
          user: rec.user,
          text: b.text ?? '',
          via: 'response_url',
          ...(b.blocks ? { blocks: b.blocks } : {}),
        });
      }
    }
  } catch (err) {
    if (err instanceof SlackApiError) return fail(400, err.error);
    throw err;
  }
  record(true);
  state.emit({ kind: 'response_url.posted', channel: rec.channel, user: rec.user, detail: { id, ok: true } });
  return { status: 200, body: { ok: true } };
}
