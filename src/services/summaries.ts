import { incidentLabel } from '../domain/incident.js';
import type { ChatMessage } from '../ports/chat.js';
import type { SummaryContext, TranscriptLine } from '../ports/summarizer.js';
import { Markers } from '../slack/ids.js';
import type { Block } from '../ports/chat.js';
import { context as ctxBlock, header, section, user } from '../slack/blocks/common.js';
import { markdownToBlocks } from '../slack/blocks/postmortem.js';
import type { Deps } from './deps.js';
import { offerSuggestedFollowups } from './followups.js';
import { requireIncident } from './lifecycle.js';
import { claudeProposeJob } from './claude-proposals.js';
import { defineJob } from './jobs.js';
import { z } from 'zod';
import { postOnce } from './steps.js';
import { escapeText } from '../slack/mrkdwn.js';

/** What the bot remembers of its last summary, so the next one only sends what is new. */
interface SummaryState {
  text: string;
  throughTs: string | null;
  n: number;
}

const summaryKey = (id: string) => `summary:${id}`;
/** chat.update is tier 3 (~50/min): one edit per 1.5 s keeps a stream well under it. */
const STREAM_UPDATE_MS = 1500;

function toTranscript(deps: Deps, messages: ChatMessage[]): TranscriptLine[] {
  const botUser = deps.chat.botUserId();
  return messages
    .filter((m) => !(m.blockIds ?? []).some((b) => b.startsWith('summary:') || b.startsWith('brief:') || b.startsWith('postmortem:')))
    .map((m) => ({
      ts: m.ts,
      author: m.user ?? m.botId ?? 'unknown',
      isBot: !!m.botId || (m.user !== null && m.user === botUser),
      text: m.text,
    }));
}

/**
 * The record, roles, timeline and (unless `transcript: false`) the channel's messages since
 * `since`, as the summariser takes them.
 */
export async function buildSummaryContext(deps: Deps, incidentId: string, opts: { since?: string | null; transcript?: boolean } = {}): Promise<SummaryContext> {
  const incident = await requireIncident(deps, incidentId);
  const [roles, timeline] = await Promise.all([deps.store.getRoles(incidentId), deps.store.listTimeline(incidentId)]);
  let transcript: TranscriptLine[] = [];
  if (incident.channelId && opts.transcript !== false) {
    const messages = await deps.chat.history(incident.channelId, opts.since ? { oldest: opts.since } : {});
    transcript = toTranscript(deps, messages);
  }
  return { incident, roles, timeline, transcript };
}

/** The brief, after the card in a new channel; enqueued once per incident by the declare flow. */
export const briefJob = defineJob({
  kind: 'incident.brief',
  payload: z.object({ incidentId: z.string().min(1) }),
  key: (p) => p.incidentId,
  run: (deps, p) => postBrief(deps, p.incidentId),
});

/**
 * The post-mortem draft after resolve (keyed by the resolving version), and its re-checks while
 * the backend's document is not ready (`check` counts them).
 */
export const postmortemJob = defineJob({
  kind: 'incident.postmortem',
  payload: z.object({ incidentId: z.string().min(1), check: z.number().int().min(0).optional() }),
  run: async (deps, p) => {
    await postPostmortem(deps, p.incidentId, null, { reuse: true, check: p.check ?? 0 });
  },
});

export const summaryJobs = [briefJob, postmortemJob];

/** The brief right after declare: posted when ready, never in the way of the channel or the card. */
export async function postBrief(deps: Deps, incidentId: string): Promise<void> {
  // A new channel holds only the bot's own posts: the brief works from the declaration, and a
  // storm of declares spends no tier-3 history call per incident on it.
  const ctx = await buildSummaryContext(deps, incidentId, { transcript: false });
  if (!ctx.incident.channelId) return;
  const result = await deps.summarizer.brief(ctx);
  if (!result.fallback) await deps.jobs.enqueue(claudeProposeJob, { incidentId }, { key: `${incidentId}:brief` });
  await postOnce(deps, `brief:${incidentId}`, 'brief', ctx.incident.channelId, Markers.brief(incidentId), () => ({
    text: `Brief for ${incidentLabel(ctx.incident)}`,
    blocks: [header(`Brief: ${incidentLabel(ctx.incident)}`, Markers.brief(incidentId)), ...chunks(result.text, result.fallback), ctxBlock(result.fallback ? 'Plain summary from the record (Claude unavailable)' : 'Written by Claude from the declaration. Check before acting.')],
  }));
}

/**
 * A catch-up summary streamed into one message. Incremental: only messages after the last summary
 * are read and sent, together with that summary.
 */
export async function postSummary(deps: Deps, incidentId: string, requestedBy: string): Promise<void> {
  const incident = await requireIncident(deps, incidentId);
  if (!incident.channelId) return;
  const channel = incident.channelId;
  const state = (await deps.store.getKv<SummaryState>(summaryKey(incidentId))) ?? null;
  const ctx = await buildSummaryContext(deps, incidentId, { since: state?.throughTs ?? null });
  ctx.previousSummary = state?.text || null;
  ctx.summarizedThroughTs = state?.throughTs ?? null;
  const n = String((state?.n ?? 0) + 1);
  const marker = Markers.summary(incidentId, n);
  const title = `Summary of ${incidentLabel(incident)} (requested by ${user(requestedBy)})`;
  const placeholder = await deps.chat.post(channel, title, [section(`*${title}*`, marker), section(':hourglass_flowing_sand: Reading the channel…')]);
  let lastUpdate = 0;
  let pending: Promise<unknown> = Promise.resolve();
  const render = (text: string, done: boolean, fallback = false) => [
    section(`*${title}*`, marker),
    ...chunks(text || '…', fallback),
    ...(done ? [ctxBlock(fallback ? 'Plain summary from the record (Claude unavailable)' : 'Written by Claude from this channel. Check before acting.')] : [ctxBlock(':writing_hand: writing…')]),
  ];
  const result = await deps.summarizer.summarize(ctx, (soFar) => {
    const now = Date.now();
    if (now - lastUpdate < STREAM_UPDATE_MS) return;
    lastUpdate = now;
    pending = pending.then(() => deps.chat.update(channel, placeholder.ts, title, render(soFar, false)).catch((err) => deps.logger.warn({ err }, 'stream update failed')));
  });
  await pending;
  await deps.chat.update(channel, placeholder.ts, title, render(result.text, true, result.fallback));
  // A fallback summary is not an analysis of the messages: keep the last real summary as the base,
  // so the next Claude call still sees every message it has not summarised.
  if (!result.fallback) {
    const newest = ctx.transcript.at(-1)?.ts ?? state?.throughTs ?? null;
    await deps.store.setKv<SummaryState>(summaryKey(incidentId), { text: result.text, throughTs: result.coveredThroughTs ?? newest, n: Number(n) });
  } else if (state) {
    await deps.store.setKv<SummaryState>(summaryKey(incidentId), { ...state, n: Number(n) });
  } else {
    await deps.store.setKv<SummaryState>(summaryKey(incidentId), { text: '', throughTs: null, n: Number(n) });
  }
  if (!result.fallback) await deps.jobs.enqueue(claudeProposeJob, { incidentId }, { key: `${incidentId}:${n}` });
  await deps.store.audit({ at: deps.clock.now(), incidentId, actor: requestedBy, action: 'incident.summarized', detail: { fallback: result.fallback, usage: result.usage ?? null } });
}

/**
 * The latest summary posted in the channel, or, when there is none or `fresh` is asked, a new one
 * written now from the record and the channel and returned without posting it.
 */
export async function latestSummary(deps: Deps, incidentId: string, fresh: boolean): Promise<{ text: string; source: 'posted' | 'new'; fallback: boolean }> {
  const state = await deps.store.getKv<SummaryState>(summaryKey(incidentId));
  if (!fresh && state?.text) return { text: state.text, source: 'posted', fallback: false };
  const ctx = await buildSummaryContext(deps, incidentId);
  const result = await deps.summarizer.summarize(ctx, () => undefined);
  return { text: result.text, source: 'new', fallback: result.fallback };
}

/** How long a resolved incident's draft waits for the backend's post-mortem document to appear. */
export const POSTMORTEM_WAIT = { checks: 6, intervalMs: 10 * 60_000 };

interface StoredDraft {
  markdown: string;
  fallback: boolean;
  at: string;
}

/**
 * The post-mortem draft: generated once and kept (`postmortem-draft:<id>`), posted in the channel,
 * and saved to the backend. A job (`reuse`) keeps a draft made since the resolve, so a retry never
 * calls Claude again; `/incident postmortem` asks for a fresh one. A backend without a post-mortem
 * document yet (Rootly makes one from a retrospective process, or never) is re-checked
 * POSTMORTEM_WAIT.checks times; then the channel is told where the draft is and the job stops.
 */
export async function postPostmortem(
  deps: Deps,
  incidentId: string,
  requestedBy: string | null,
  opts: { reuse?: boolean; check?: number } = {},
): Promise<'saved' | 'not_ready' | 'unsupported' | 'posted'> {
  const check = opts.check ?? 0;
  const key = `postmortem-draft:${incidentId}`;
  const current = await requireIncident(deps, incidentId);
  const kept = await deps.store.getKv<StoredDraft>(key);
  const since = current.resolvedAt?.getTime() ?? Infinity;
  let draft: StoredDraft;
  if (opts.reuse && kept && Date.parse(kept.at) >= since) draft = kept;
  else {
    const ctx = await buildSummaryContext(deps, incidentId);
    const result = await deps.summarizer.postmortem(ctx);
    draft = { markdown: result.text, fallback: result.fallback, at: deps.clock.now().toISOString() };
    await deps.store.setKv(key, draft);
  }
  const incident = await requireIncident(deps, incidentId);
  if (incident.channelId) {
    const flow = `postmortem:${incidentId}:${incident.status}:${draft.at}`;
    await postOnce(deps, flow, 'post', incident.channelId, Markers.postmortem(incidentId), () => ({
      text: `Post-mortem draft for ${incidentLabel(incident)}`,
      blocks: postmortemBlocks(incidentLabel(incident), Markers.postmortem(incidentId), draft.markdown, draft.fallback),
    }));
    // Claude's proposed follow-ups are offered with an Add button each; none is created silently.
    if (!draft.fallback) await offerSuggestedFollowups(deps, incidentId, draft.markdown, draft.at);
  }
  let outcome: 'saved' | 'not_ready' | 'unsupported' | 'posted' = 'posted';
  if (incident.status === 'resolved' && incident.backendId) {
    outcome = await deps.backend.savePostmortem({ firebreakId: incident.id, backendId: incident.backendId }, draft.markdown);
    if (outcome === 'not_ready') {
      if (check < POSTMORTEM_WAIT.checks) {
        await deps.jobs.enqueue(postmortemJob, { incidentId, check: check + 1 }, { key: `${incidentId}:${draft.at}:check:${check + 1}`, delayMs: POSTMORTEM_WAIT.intervalMs });
      } else if (incident.channelId) {
        const mins = Math.round((POSTMORTEM_WAIT.checks * POSTMORTEM_WAIT.intervalMs) / 60_000);
        const marker = `${Markers.postmortem(incidentId)}:gave-up`;
        const text = `${deps.backend.name} has no post-mortem document for ${incidentLabel(incident)} after ${mins} minutes. The draft is the one posted here (and on the ${deps.backend.name} timeline where it has one); Firebreak stops waiting.`;
        await postOnce(deps, `postmortem:${incidentId}:${draft.at}`, 'gave-up', incident.channelId, marker, () => ({ text, blocks: [section(text, marker)] }));
      }
    }
  }
  await deps.store.audit({ at: deps.clock.now(), incidentId, actor: requestedBy ?? 'system', action: 'incident.postmortem_drafted', detail: { outcome, fallback: draft.fallback, check } });
  return outcome;
}

/**
 * The draft as Block Kit (the Markdown stays for the backend): its first heading carries the
 * marker, or a heading is added; a footer says who wrote it. At most 50 blocks, Slack's limit.
 */
export function postmortemBlocks(label: string, marker: string, markdown: string, fallback: boolean): Block[] {
  const body = markdownToBlocks(markdown, 48);
  const first = body[0];
  const head = first?.type === 'header' ? [{ ...first, block_id: marker }] : [header(`Post-mortem draft: ${label}`, marker), ...(first ? [first] : [])];
  // The skeleton's own first line already says Claude was unavailable; the footer does not repeat it.
  return [...head, ...body.slice(1), ctxBlock(fallback ? 'Skeleton from the record. Edit before publishing.' : 'Drafted by Claude. Edit before publishing.')];
}

/**
 * Split long text into section blocks within Block Kit's 3,000-character limit, at line breaks.
 * Claude's text is untrusted and escaped here; the plain summary (`fromRecord`) comes escaped from
 * the fallback summariser, with its date tokens and mentions meant to stay live.
 */
function chunks(text: string, fromRecord = false) {
  const out: ReturnType<typeof section>[] = [];
  let cur = '';
  for (const line of (fromRecord ? text : escapeText(text)).split('\n')) {
    if ((cur + '\n' + line).length > 2900) {
      if (cur) out.push(section(cur));
      cur = line.slice(0, 2900);
    } else cur = cur ? `${cur}\n${line}` : line;
  }
  if (cur) out.push(section(cur));
  return out.slice(0, 45);
}
