import { z } from 'zod';
import { proposedFollowups, type FollowupSource } from '../domain/followup.js';
import { incidentLabel } from '../domain/incident.js';
import { AppError } from '../errors.js';
import type { Followup } from '../ports/followthrough-store.js';
import { followupCreated, followupList, followupSuggestions, homeFollowups } from '../slack/blocks/followthrough.js';
import type { Block } from '../ports/chat.js';
import type { Deps } from './deps.js';
import { defineJob } from './jobs.js';
import { requireIncident } from './lifecycle.js';
import { postOnce, stepWithIntent } from './steps.js';
import { Markers } from '../slack/ids.js';
import { escapeText } from '../slack/mrkdwn.js';

const SyncPayload = z.object({ followupId: z.string() });
const Suggestion = z.object({ incidentId: z.string(), text: z.string() });
const suggestionKey = (id: string) => `followup-suggestion:${id}`;

export interface NewFollowupInput {
  incidentId: string;
  text: string;
  ownerId: string | null;
  due: string | null;
  source: FollowupSource;
  /** Idempotency: the message (`msg:<channel>:<ts>`), the suggestion, the command's trigger. */
  sourceRef: string;
  actor: string;
}

/**
 * Record a follow-up in the store (once per sourceRef), say so in the incident channel, and queue
 * its creation in the backend (Rootly action item, incident.io follow-up; the store is the record
 * for the local backend).
 */
export async function createFollowup(deps: Deps, input: NewFollowupInput): Promise<{ followup: Followup; inserted: boolean }> {
  const incident = await requireIncident(deps, input.incidentId);
  const now = deps.clock.now();
  const res = await deps.store.insertFollowup({
    id: deps.newId(),
    incidentId: incident.id,
    text: input.text.slice(0, 500),
    ownerId: input.ownerId,
    due: input.due,
    source: input.source,
    sourceRef: input.sourceRef,
    createdBy: input.actor,
    createdAt: now,
  });
  if (!res.inserted) return res;
  const f = res.followup;
  await deps.store.audit({
    at: now,
    incidentId: incident.id,
    actor: input.actor,
    action: 'followup.created',
    detail: { followupId: f.id, source: f.source, owner: f.ownerId, due: f.due },
  });
  await deps.store.addTimeline({
    incidentId: incident.id,
    at: now,
    kind: 'followup',
    text: `Follow-up: ${escapeText(f.text)}${f.ownerId ? ` (owner <@${f.ownerId}>)` : ''}${f.due ? ` due ${f.due}` : ''}`,
    author: input.actor,
    sourceRef: `followup:${f.id}`,
  });
  await deps.jobs.enqueue(followupSyncJob, { followupId: f.id });
  if (incident.channelId)
    await deps.chat.post(incident.channelId, followupCreated(f, deps.backend.name)).catch((err) => deps.logger.warn({ err }, 'posting the follow-up failed'));
  return res;
}

export async function syncFollowup(deps: Deps, { followupId }: z.output<typeof SyncPayload>): Promise<void> {
  const f = await deps.store.getFollowup(followupId);
  if (!f || f.backendId) return;
  const incident = await requireIncident(deps, f.incidentId);
  if (!incident.backendId) throw new Error('backend record not created yet'); // retried after the declare flow
  const owner = f.ownerId ? await deps.chat.userInfo(f.ownerId).catch(() => null) : null;
  const ref = { firebreakId: incident.id, backendId: incident.backendId };
  // Neither backend takes an idempotency key for follow-ups: an attempt whose answer was lost (a
  // timeout after the backend recorded it, a crash) is found by our marker before creating again.
  const res = await stepWithIntent(deps, `followup:${f.id}`, 'backend', {
    find: async () => (await deps.oncall.findFollowup(ref, f.id)) ?? undefined,
    run: () =>
      deps.oncall.createFollowup(ref, {
        title: f.text,
        description: `From ${incidentLabel(incident)} (${f.source === 'claude' ? 'suggested by Claude, accepted' : 'added'} in Slack by <@${f.createdBy}>).`,
        owner: f.ownerId ? { slackUserId: f.ownerId, email: owner?.email ?? null, name: owner?.name ?? null } : null,
        due: f.due,
        idempotencyKey: f.id,
      }),
  });
  if (res.backendId) await deps.store.patchFollowup(f.id, { backendId: res.backendId, backendUrl: res.url });
}

export async function listIncidentFollowups(deps: Deps, incidentId: string): Promise<{ text: string; blocks: Block[] }> {
  const incident = await requireIncident(deps, incidentId);
  return followupList(incident, await deps.store.listFollowups({ incidentId }));
}

/** The App Home part: a person's open follow-ups across incidents. */
export async function homeFollowupBlocks(deps: Deps, userId: string): Promise<Block[]> {
  const mine = await deps.store.listFollowups({ ownerId: userId, state: 'open' });
  const labelled = await Promise.all(
    mine.map(async (f) => ({ ...f, incidentLabel: await deps.store.getIncident(f.incidentId).then((i) => (i ? incidentLabel(i) : '')) })),
  );
  return homeFollowups(labelled);
}

/**
 * Claude's post-mortem proposes follow-ups (its Prevention items): each is offered with an Add
 * button in the channel. Nothing is created until a person presses it.
 */
export async function offerSuggestedFollowups(deps: Deps, incidentId: string, markdown: string, draftAt: string): Promise<number> {
  const incident = await requireIncident(deps, incidentId);
  if (!incident.channelId) return 0;
  const existing = new Set((await deps.store.listFollowups({ incidentId })).map((f) => f.text.toLowerCase()));
  const texts = proposedFollowups(markdown).filter((t) => !existing.has(t.toLowerCase()));
  if (!texts.length) return 0;
  const suggestions = texts.map((text, n) => ({ id: `${incidentId}:${draftAt}:${n}`, text }));
  for (const s of suggestions) await deps.store.setKv(suggestionKey(s.id), { incidentId, text: s.text });
  await postOnce(deps, `followup-suggestions:${incidentId}:${draftAt}`, 'post', incident.channelId, Markers.suggestions(incidentId), () =>
    followupSuggestions(incident, suggestions),
  );
  return suggestions.length;
}

/** A person accepted one suggestion: create it (once, whoever else clicks). */
export async function acceptSuggestion(deps: Deps, suggestionId: string, actor: string): Promise<string> {
  const raw = await deps.store.getKv(suggestionKey(suggestionId));
  const s = Suggestion.safeParse(raw);
  if (!s.success) throw new AppError('input.invalid', 'That suggestion is no longer available.');
  const { followup, inserted } = await createFollowup(deps, {
    incidentId: s.data.incidentId,
    text: s.data.text,
    ownerId: null,
    due: null,
    source: 'claude',
    sourceRef: `suggestion:${suggestionId}`,
    actor,
  });
  return inserted ? `Added the follow-up: ${escapeText(followup.text)}` : `That follow-up was already added by <@${followup.createdBy}>.`;
}

/** Record a follow-up in the backend (Rootly action item, incident.io follow-up), once per follow-up. */
export const followupSyncJob = defineJob({ kind: 'followup.sync', payload: SyncPayload, key: (p) => p.followupId, run: syncFollowup });
export const followupJobs = [followupSyncJob];
