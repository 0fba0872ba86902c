import { backendLabel, type Incident } from '../domain/incident.js';
import type { ChatMessage } from '../ports/chat.js';
import type { SummaryContext, TranscriptLine } from '../ports/summarizer.js';
import type { Deps } from './deps.js';
import {
  briefMessage,
  exposedChannel,
  mentionedUserIds,
  postmortemForBackend,
  postmortemGaveUpMessage,
  postmortemMessage,
  postmortemWithheldMessage,
  summaryMessage,
  summaryPrivately,
} from './incident-views.js';
import { offerSuggestedFollowups } from './followups.js';
import { requireIncident } from './lifecycle.js';
import { claudeProposeJob } from './claude-proposals.js';
import { defineJob } from './jobs.js';
import { z } from 'zod';
import { postOnce, step } from './steps.js';

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

/**
 * The brief, after the card in a new channel; enqueued once per incident by the declare flow as the
 * card goes out. `after` names the step it follows (the declare flow's card); a job without it
 * (queued by an earlier version, after the card was posted) posts at once.
 */
export const briefJob = defineJob({
  kind: 'incident.brief',
  payload: z.object({ incidentId: z.string().min(1), after: z.object({ flowId: z.string(), step: z.string() }).optional() }),
  key: (p) => p.incidentId,
  run: (deps, p) => postBrief(deps, p.incidentId, p.after ?? null),
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

/** The brief's own steps: `draft` (what Claude wrote), `poster` (who posts it), `brief` (the post). */
const briefFlowId = (incidentId: string) => `brief:${incidentId}`;
type BriefDraft = { text: string; fallback: boolean };
type BriefPoster = 'brief' | 'declare';

/**
 * The brief right after declare: never in the way of the channel or the card, and in the channel
 * after the card. Two things must both be there, each recorded as a step: the brief written (this
 * job, Claude's round trip included, while the card is in flight) and the card posted (the declare
 * flow). Whichever is recorded second posts the brief: this job when the card is already recorded,
 * else the declare flow as soon as it records the card (`postBriefAfterCard`), in the same run or
 * a later one (a retry, a restart). Each looks for the other's step after recording its own, so
 * at least one of them sees both; when both do, the first to claim `poster` posts. Nothing waits
 * and nothing fails for a card that is not there yet: a card that never posts leaves the brief
 * written and unposted, and the only notice is the declare flow's own. Claude's proposals, which
 * post in the channel too, are asked for only with the brief.
 */
export async function postBrief(deps: Deps, incidentId: string, after: { flowId: string; step: string } | null = null): Promise<void> {
  const flowId = briefFlowId(incidentId);
  const read: { incident?: Incident } = {};
  const draft = await step<BriefDraft>(deps, flowId, 'draft', async () => {
    // A new channel holds only the bot's own posts: the brief works from the declaration, and a
    // storm of declares spends no tier-3 history call per incident on it.
    const ctx = await buildSummaryContext(deps, incidentId, { transcript: false });
    read.incident = ctx.incident;
    const result = await deps.summarizer.brief(ctx);
    return { text: result.text, fallback: result.fallback };
  });
  if (after && (await deps.store.getStep(after.flowId, after.step)) === undefined) return; // the declare flow posts it with the card
  await postBriefOnce(deps, read.incident ?? (await requireIncident(deps, incidentId)), draft, 'brief');
}

/** The declare flow, its card recorded: posts the brief if it is written (else its job will). */
export async function postBriefAfterCard(deps: Deps, incident: Incident): Promise<void> {
  const draft = await deps.store.getStep<BriefDraft>(briefFlowId(incident.id), 'draft');
  if (draft !== undefined) await postBriefOnce(deps, incident, draft, 'declare');
}

async function postBriefOnce(deps: Deps, incident: Incident, draft: BriefDraft, by: BriefPoster): Promise<void> {
  const flowId = briefFlowId(incident.id);
  const channelId = incident.channelId;
  if (!channelId) return;
  // Not asked for by anyone: a private incident's public channel goes without it (see `exposedChannel`).
  if (await exposedChannel(deps, { ...incident, channelId })) return;
  // A retry of the poster finds its own claim and carries on; the other one stops here.
  if ((await deps.store.putStep<BriefPoster>(flowId, 'poster', by)) !== by) return;
  if (!draft.fallback) await deps.jobs.enqueue(claudeProposeJob, { incidentId: incident.id }, { key: `${incident.id}:brief` });
  const msg = briefMessage(incident, draft);
  await postOnce(deps, flowId, 'brief', channelId, msg.marker, () => msg);
}

/**
 * A catch-up summary streamed into one message. Incremental: only messages after the last summary
 * are read and sent, together with that summary. In a private incident's public channel
 * (`exposedChannel`) nothing is posted: the summary is returned, to be shown to `requestedBy` only,
 * and the next one in the channel starts again from the last one posted there.
 */
export async function postSummary(deps: Deps, incidentId: string, requestedBy: string): Promise<string | null> {
  const incident = await requireIncident(deps, incidentId);
  if (!incident.channelId) return null;
  const channel = incident.channelId;
  const state = (await deps.store.getKv<SummaryState>(summaryKey(incidentId))) ?? null;
  if (await exposedChannel(deps, { ...incident, channelId: channel })) {
    const ctx = await buildSummaryContext(deps, incidentId);
    const result = await deps.summarizer.summarize(ctx, () => undefined);
    await deps.store.audit({
      at: deps.clock.now(),
      incidentId,
      actor: requestedBy,
      action: 'incident.summarized',
      detail: { fallback: result.fallback, usage: result.usage ?? null, withheld: true },
    });
    return summaryPrivately(incident, result);
  }
  const ctx = await buildSummaryContext(deps, incidentId, { since: state?.throughTs ?? null });
  ctx.previousSummary = state?.text || null;
  ctx.summarizedThroughTs = state?.throughTs ?? null;
  const n = String((state?.n ?? 0) + 1);
  const { title, placeholder: first, render } = summaryMessage(incident, n, requestedBy);
  const placeholder = await deps.chat.post(channel, title, first);
  let lastUpdate = 0;
  let pending: Promise<unknown> = Promise.resolve();
  const result = await deps.summarizer.summarize(ctx, (soFar) => {
    const now = Date.now();
    if (now - lastUpdate < STREAM_UPDATE_MS) return;
    lastUpdate = now;
    pending = pending.then(() =>
      deps.chat.update(channel, placeholder.ts, title, render(soFar, false)).catch((err) => deps.logger.warn({ err }, 'stream update failed')),
    );
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
  await deps.store.audit({
    at: deps.clock.now(),
    incidentId,
    actor: requestedBy,
    action: 'incident.summarized',
    detail: { fallback: result.fallback, usage: result.usage ?? null },
  });
  return null;
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

/**
 * The draft as the backend keeps it: read outside Slack, so `<@U123>` becomes `@Alice Nakamura`
 * (Slack's name for the person; their id when Slack does not know them) and Slack's other
 * references plain Markdown. The copy posted in the channel keeps its mentions.
 */
async function forBackend(deps: Deps, markdown: string): Promise<string> {
  const names = new Map<string, string>();
  await Promise.all(
    mentionedUserIds(markdown).map(async (id) => {
      const u = await deps.chat.userInfo(id).catch(() => null);
      if (u?.name) names.set(id, u.name);
    }),
  );
  return postmortemForBackend(markdown, names);
}

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
 * A private incident's public channel (`exposedChannel`) gets a notice in place of the draft, and
 * no suggested follow-ups; the draft is kept and saved all the same.
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
  const backend = backendLabel(deps.backend.name);
  const withheld = !!incident.channelId && (await exposedChannel(deps, { ...incident, channelId: incident.channelId }));
  if (incident.channelId) {
    const flow = `postmortem:${incidentId}:${incident.status}:${draft.at}`;
    const msg = withheld ? postmortemWithheldMessage(incident, backend) : postmortemMessage(incident, draft);
    await postOnce(deps, flow, 'post', incident.channelId, msg.marker, () => msg);
    // Claude's proposed follow-ups are offered with an Add button each; none is created silently.
    if (!draft.fallback && !withheld) await offerSuggestedFollowups(deps, incidentId, draft.markdown, draft.at);
  }
  let outcome: 'saved' | 'not_ready' | 'unsupported' | 'posted' = 'posted';
  if (incident.status === 'resolved' && incident.backendId) {
    outcome = await deps.backend.savePostmortem({ firebreakId: incident.id, backendId: incident.backendId }, await forBackend(deps, draft.markdown));
    if (outcome === 'not_ready') {
      if (check < POSTMORTEM_WAIT.checks) {
        await deps.jobs.enqueue(
          postmortemJob,
          { incidentId, check: check + 1 },
          { key: `${incidentId}:${draft.at}:check:${check + 1}`, delayMs: POSTMORTEM_WAIT.intervalMs },
        );
      } else if (incident.channelId) {
        const mins = Math.round((POSTMORTEM_WAIT.checks * POSTMORTEM_WAIT.intervalMs) / 60_000);
        const msg = postmortemGaveUpMessage(incident, backend, mins, { withheld });
        await postOnce(deps, `postmortem:${incidentId}:${draft.at}`, 'gave-up', incident.channelId, msg.marker, () => msg);
      }
    }
  }
  await deps.store.audit({
    at: deps.clock.now(),
    incidentId,
    actor: requestedBy ?? 'system',
    action: 'incident.postmortem_drafted',
    detail: { outcome, fallback: draft.fallback, check, ...(withheld ? { withheld } : {}) },
  });
  return outcome;
}
