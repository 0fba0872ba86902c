import { renderChannelName, withCollisionSuffix } from '../domain/channel-name.js';
import { backendLabel, incidentLabel, isOpen, type Incident, type IncidentOrigin } from '../domain/incident.js';
import { z } from 'zod';
import type { Severity } from '../domain/severity.js';
import { AppError, BackendError, ChatError, userMessage } from '../errors.js';
import type { Deps } from './deps.js';
import { notAPerson } from './lifecycle.js';
import { onCallInviteJob } from './paging.js';
import { scheduleReminder } from './reminders.js';
import {
  announceChannel,
  cardFor,
  postAnnouncement,
  postIncidentCard,
  refreshIncidentViews,
  refreshJob,
  setIncidentTopic,
  wantsChannel as wantsOwnChannel,
} from './incident-views.js';
import { defineJob, PermanentJobError } from './jobs.js';
import { afterHandOver, recordIntent, step, stepWithIntent, type StepRun } from './steps.js';
import { briefJob, postBriefAfterCard } from './summaries.js';
import { runbookAutoStartJob } from './runbooks.js';

export interface DeclareInput {
  title: string;
  severity: Severity;
  description: string;
  services: string[];
  private: boolean;
  commanderId: string | null;
  declaredBy: string | null;
  origin: IncidentOrigin;
  source?: string | null;
  /** Idempotency: the same key never declares twice (Slack view id, backend incident id, alert episode). */
  dedupeKey?: string | null;
  /** The incident already exists in the backend (it was created there): adopt it, do not create. */
  existingBackend?: { backendId: string; url: string | null } | null;
  /**
   * 'always' for incidents declared from Slack; 'auto' opens a channel only at or above
   * `announce.auto_channel_min_severity` (incidents created in the backend's UI or by alerts).
   */
  channel: 'always' | 'auto';
  /** Where to tell a person that something went wrong. */
  notify?: { channelId: string; userId: string } | null;
}

export const declareFlowId = (incidentId: string) => `declare:${incidentId}`;

const Notify = z.object({ channelId: z.string(), userId: z.string() });
const FlowPayload = z.object({
  incidentId: z.string().min(1),
  channel: z.enum(['always', 'auto']),
  notify: Notify.nullable(),
  /** Set when a person asked for a channel later ("Open a channel"): they are invited too. */
  openedBy: z.string().nullish(),
});
type FlowPayload = z.output<typeof FlowPayload>;

/**
 * The declare flow (channel, card, backend record, announcement), keyed by the incident. Its error
 * policy: a backend that refuses the record (a field it rejects, a key without the scope) cannot
 * be helped by retrying, so the job stops and the declarer is told why (Slack's side is already
 * done); any other failure tells the declarer once, at the first attempt, and retries.
 */
export const declareFlowJob = defineJob({
  kind: 'declare.flow',
  payload: FlowPayload,
  key: (p) => p.incidentId,
  run: async (deps, p, job) => {
    try {
      await runDeclareFlow(deps, p);
    } catch (err) {
      if (err instanceof BackendError && (err.code === 'backend.validation' || err.code === 'backend.auth'))
        throw new PermanentJobError(`the incident was not recorded in ${backendLabel(deps.backend.name)}: ${userMessage(err).replace(/^:warning: /, '')}`);
      if (job.attempts === 1 && p.notify)
        await deps.chat
          .postEphemeral(
            p.notify.channelId,
            p.notify.userId,
            `:hourglass: Setting up the incident hit an error (${(err as Error).message}). Firebreak kept the record and is retrying.`,
          )
          .catch(() => undefined);
      throw err;
    }
  },
});

export const declareJobs = [declareFlowJob];

const noop = (): void => undefined;

/**
 * What `declareIncident` just wrote (the record, its roles), for the run of the flow it starts in
 * this process at once: `jobs.committed` (the job written already claimed, `draft(..., { here:
 * true })`) calls the job's handler, up to its first await, before it returns, and that run takes
 * this instead of reading both back, and looks up none of its steps (none can be recorded for an
 * incident that did not exist a moment ago). Removed once `committed` returns: a run that starts later (a retry, a claim after a crash, another replica, a
 * queue with no free slot here) reads the store as ever.
 */
const justDeclared = new Map<string, { incident: Incident; roles: Record<string, string> }>();

/**
 * Record the incident (idempotent on `dedupeKey`) and start its resumable flow. Returns as soon as
 * the record is durable: the channel, card, backend record and announcement follow in the flow.
 */
export async function declareIncident(deps: Deps, input: DeclareInput): Promise<{ incident: Incident; created: boolean }> {
  const now = deps.clock.now();
  const id = deps.newId();
  const title = input.title.trim().slice(0, 200);
  const commanderId = input.commanderId;
  // Started here at once (no claim a loop turn later): the channel is the first thing every
  // declaration waits for. Written with the incident, in its transaction (`DeclarationRecords`).
  const flow = deps.jobs.draft(declareFlowJob, { incidentId: id, channel: input.channel, notify: input.notify ?? null }, { here: true });
  const { incident, created } = await deps.store.createIncident(
    {
      id,
      title,
      description: input.description.trim(),
      severity: input.severity,
      services: input.services,
      private: input.private,
      origin: input.origin,
      source: input.source ?? null,
      declaredBy: input.declaredBy,
      commanderId,
      backend: deps.backend.name,
      backendId: input.existingBackend?.backendId ?? null,
      backendUrl: input.existingBackend?.url ?? null,
      dedupeKey: input.dedupeKey ?? null,
      createdAt: now,
    },
    {
      roles: commanderId ? { commander: commanderId } : {},
      audit: {
        at: now,
        incidentId: id,
        actor: input.declaredBy ?? input.origin,
        action: 'incident.declared',
        detail: { title, severity: input.severity, origin: input.origin, source: input.source ?? null },
      },
      timeline: {
        incidentId: id,
        at: now,
        kind: 'declared',
        text: `Declared (${input.severity}) by ${input.declaredBy ? `<@${input.declaredBy}>` : input.origin}`,
        author: input.declaredBy,
      },
      job: flow,
    },
  );
  if (!created) return { incident, created };
  deps.metrics.incidents.inc({ origin: incident.origin, severity: incident.severity });
  justDeclared.set(incident.id, { incident, roles: incident.commanderId ? { commander: incident.commanderId } : {} });
  try {
    // Written with the incident (a new id, so a new key): the job was added.
    deps.jobs.committed(flow, true);
  } finally {
    justDeclared.delete(incident.id);
  }
  return { incident, created };
}

/** A person's declaration from Slack (the command or the modal): always a channel; told in `channelId`. */
export function slackDeclareInput(d: {
  title: string;
  severity: Severity;
  userId: string;
  /** Where the person is, to tell them of trouble (null: nowhere, e.g. a modal opened from a shortcut). */
  channelId: string | null;
  /** The Slack request's identity (trigger or view id): a retried request declares once. */
  dedupeKey: string;
  description?: string;
  services?: string[];
  private?: boolean;
  commanderId?: string | null;
}): DeclareInput {
  return {
    title: d.title,
    severity: d.severity,
    description: d.description ?? '',
    services: d.services ?? [],
    private: d.private ?? false,
    commanderId: d.commanderId || d.userId,
    declaredBy: d.userId,
    origin: 'slack',
    dedupeKey: d.dedupeKey,
    channel: 'always',
    notify: d.channelId ? { channelId: d.channelId, userId: d.userId } : null,
  };
}

/** A declaration waiting for "declare anyway" after a similar incident was offered. */
export interface Draft {
  input: DeclareInput;
}

export const draftKey = (id: string) => `draft:${id}`;

/** What a declaration from Slack came to; `slack/blocks` words it. */
export type DeclareOutcome =
  /** `commanderRefused`: the person named as commander could not be (an app, a deactivated account): the declarer commands. */
  | { kind: 'declared'; incident: Incident; commanderRefused?: { userId: string; why: string } }
  | { kind: 'already_declared'; incident: Incident }
  /** A similar incident is open: offered "join" or "declare anyway" (the draft is stored). */
  | { kind: 'similar_open'; similar: Incident; draftId: string };

/**
 * Declare unless a similar incident is open; then offer "join" or "declare anyway" instead.
 * `force` skips the check (the person already saw the offer).
 */
export async function declareOrOffer(deps: Deps, input: DeclareInput, opts: { force?: boolean } = {}): Promise<DeclareOutcome> {
  // A repeat of the same declaration (a double-submitted modal, a retried click) is recognised
  // by its key, not mistaken for "a similar incident".
  const mine = input.dedupeKey ? await deps.store.findIncidentByDedupeKey(input.dedupeKey) : null;
  if (mine) return { kind: 'already_declared', incident: mine };
  // The commander the declarer named must be a person who can approve and hand command on (asked
  // of Slack only when it is someone else); otherwise the declarer commands, and is told why.
  let commanderRefused: { userId: string; why: string } | undefined;
  if (input.commanderId && input.declaredBy && input.commanderId !== input.declaredBy) {
    const why = await notAPerson(deps, input.commanderId);
    if (why) {
      commanderRefused = { userId: input.commanderId, why };
      input = { ...input, commanderId: input.declaredBy };
    }
  }
  if (!opts.force) {
    const similar = await findSimilarOpen(deps, input.title, input.severity, input.services);
    if (similar) {
      // The twin of this request may have created it a moment ago: that is not a duplicate.
      const twin = input.dedupeKey ? await deps.store.findIncidentByDedupeKey(input.dedupeKey) : null;
      if (twin) return { kind: 'already_declared', incident: twin };
      const draftId = deps.newId();
      await deps.store.setKv<Draft>(draftKey(draftId), { input });
      return { kind: 'similar_open', similar, draftId };
    }
  }
  const { incident, created } = await declareIncident(deps, input);
  return created ? { kind: 'declared', incident, ...(commanderRefused ? { commanderRefused } : {}) } : { kind: 'already_declared', incident };
}

/** "Declare anyway" on the offer: the stored draft, declared once however often it is clicked. */
export async function declareDraft(deps: Deps, draftId: string): Promise<DeclareOutcome> {
  const draft = await deps.store.getKv<Draft>(draftKey(draftId));
  if (!draft) throw new AppError('input.invalid', 'That declaration has expired; run `/incident` again.');
  return declareOrOffer(deps, { ...draft.input, dedupeKey: `draft:${draftId}` }, { force: true });
}

/** A similar open incident: same service and severity, or the same title (case-insensitive). */
export async function findSimilarOpen(deps: Deps, title: string, severity: Severity, services: string[]): Promise<Incident | null> {
  const t = normaliseTitle(title);
  const open = await deps.store.listOpenIncidents();
  return (
    open.find((i) => normaliseTitle(i.title) === t) ??
    open.find((i) => i.severity === severity && services.length > 0 && i.services.some((s) => services.includes(s))) ??
    null
  );
}

function normaliseTitle(t: string): string {
  return t
    .toLowerCase()
    .replace(/^\[[a-z]+\]\s*/, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/**
 * "Open a channel" on the announcement of an incident that got none: the same resumable declare
 * flow, now with a channel. Idempotent: one job per incident, and a flow that already made the
 * channel makes no second one.
 */
export async function openChannelLater(deps: Deps, incidentId: string, userId: string): Promise<{ alreadyOpen: string | null }> {
  const incident = await deps.store.getIncident(incidentId);
  if (!incident) throw new AppError('incident.not_found', 'That incident no longer exists.');
  if (incident.channelId) return { alreadyOpen: incident.channelId };
  if (!isOpen(incident.status)) throw new AppError('incident.bad_transition', `${incidentLabel(incident)} is ${incident.status}; it needs no channel now.`);
  const queued = await deps.jobs.enqueue(
    declareFlowJob,
    { incidentId, channel: 'always', notify: null, openedBy: userId },
    { key: `${incidentId}:open-channel` },
  );
  if (queued) await deps.store.audit({ at: deps.clock.now(), incidentId, actor: userId, action: 'incident.channel_requested', detail: {} });
  return { alreadyOpen: null };
}

/**
 * The declare flow, arranged so that each call starts as soon as what it needs exists (one
 * round trip to Slack or the backend is "L"):
 *
 *   0 L  the channel; the backend record (incident.io: at 1 L, it attaches to our channel at create)
 *   1 L  the card, then the announcement (each rendered with the backend link if it is known),
 *        then invite and topic; bookmark and the channel written back to the backend, once both
 *        exist; the brief's job is queued and writes the brief (Claude) meanwhile
 *   2 L  pin and brief (once written) after the card; the card and the announcement each
 *        re-rendered once if it went out before the backend link existed
 *   3 L  done
 *
 * Nothing Slack shows waits for the backend: a slow or failing incident platform never holds up
 * the card. Each step is recorded, so a crash or a retry resumes at the first missing step and
 * never makes a second incident, channel or card.
 */
export async function runDeclareFlow(deps: Deps, payload: FlowPayload): Promise<void> {
  const flowId = declareFlowId(payload.incidentId);
  // Taken before the first await: only the run `declareIncident` starts finds it (see `justDeclared`).
  const handed = payload.openedBy ? undefined : justDeclared.get(payload.incidentId);
  justDeclared.delete(payload.incidentId);
  const how: StepRun = { fresh: !!handed };
  const [initial, roles] = handed
    ? [handed.incident, handed.roles]
    : await Promise.all([deps.store.getIncident(payload.incidentId), deps.store.getRoles(payload.incidentId)]);
  if (!initial) return;
  const inc = initial;
  const wantsChannel = wantsOwnChannel(deps, inc, payload.channel);

  // Each post everything else waits for (the channel, then the card, then the announcement) is on
  // the wire before the work behind it starts: undici writes a request on a kept-alive socket only
  // at the end of the event-loop turn (`afterHandOver`), so a post handed over first but followed
  // in its turn by other steps' store records and rendering would leave after all of them. Each
  // gate opens once its post is written, or however its step ends (found done, failed).
  const handedOver = () => {
    let open!: () => void;
    return { gate: new Promise<void>((resolve) => (open = resolve)), open: () => open(), sent: () => void afterHandOver().then(() => open()) };
  };
  const channelOut = handedOver();
  const cardOut = handedOver();
  const announceOut = handedOver();

  const channelP = (wantsChannel ? ensureChannel(deps, flowId, inc, how, channelOut.sent) : Promise.resolve(null)).finally(channelOut.open);
  // What stands between the channel's answer and the card post is kept to the channel's step
  // record: the card's intent is recorded while the channel is being created (a fresh run's; a
  // resumed one looks its steps up as ever), and the incident's row gets the channel once the card
  // is on the wire. Everything that reads the channel from the row comes after that (afterPosts).
  const cardIntent = how.fresh && wantsChannel ? channelOut.gate.then(() => recordIntent(deps, flowId, 'card')) : null;
  const channelKept = channelP.then(async (channel) => {
    if (!channel || (inc.channelId === channel.id && inc.channelName === channel.name)) return;
    await cardOut.gate;
    await deps.store.updateIncident(inc.id, { channelId: channel.id, channelName: channel.name, updatedAt: deps.clock.now() });
  });
  // incident.io attaches its record to our channel only at create (see its adapter): wait for it
  // there, and for the card and the announcement, which go first: both then have their ts when the
  // record comes back, and their edits with its link leave together. The others' create goes as
  // soon as the channel's has (`recordWithChannel`), and is answered while the card is in flight.
  const recordWithChannel = deps.backend.name !== 'incidentio';
  const backendP = recordWithChannel
    ? channelOut.gate.then(() => ensureBackendRecord(deps, flowId, inc, null, how, cardOut.gate))
    : channelP.then(async (ch) => {
        await Promise.all([cardOut.gate, announceOut.gate]);
        return ensureBackendRecord(deps, flowId, inc, ch, how);
      });
  // The backend link as soon as it exists, for whatever is rendered after that.
  let backendRef: { backendId: string; url: string | null } | null = inc.backendId ? { backendId: inc.backendId, url: inc.backendUrl } : null;
  backendP.then(
    (r) => (backendRef = r),
    () => undefined,
  );
  const current = (channel: { id: string; name: string } | null): Incident => ({
    ...inc,
    ...(channel ? { channelId: channel.id, channelName: channel.name } : {}),
    ...(backendRef ? { backendId: backendRef.backendId, backendUrl: backendRef.url } : {}),
  });
  /** Posted in this run with the backend link in it (or no link to show): nothing to re-render. */
  const linked = (posted: { rendered: boolean } | null, rendered: Incident) => !posted || (posted.rendered && !!rendered.backendUrl);

  // The card is what the next layer waits for (pin, brief, link refresh): it goes to Slack first,
  // then the announcement (its link refresh is in the next layer too), and the rest of this layer
  // (invite, topic, bookmark, write-back, the brief's job) spends its store round trips after both
  // are handed over. They all share one SQLite connection and one event loop, so whatever is
  // queued ahead of a post's step records delays it; and Slack answers in the order it was asked,
  // so the answers the next layer needs come back, and are handled, first. Measured in-process:
  // process CPU between the channel's answer and the card post 1.9-2.7 ms before, 1.0-1.5 after.
  // Each gate opens once its post is on the wire (`handedOver` above).
  // The card does not show the channel: it is rendered while the channel is being created, once
  // that call is on the wire, and again at the channel's answer only if the backend link came in
  // meanwhile. What is left between the channel's answer and the card post is the step records.
  const early = wantsChannel
    ? channelOut.gate.then(() => {
        const ref = backendRef;
        return cardFor(deps, current(null), roles).then(
          (card) => ({ ref, card }),
          () => null,
        );
      })
    : null;
  const cardP = channelP
    .then(async (channel) => {
      if (!channel) return null;
      const shown = current(channel);
      const pre = await early;
      const card = await postIncidentCard(
        deps,
        flowId,
        { ...shown, channelId: channel.id },
        roles,
        cardOut.sent,
        how,
        pre && pre.ref === backendRef ? pre.card : undefined,
        cardIntent,
      );
      return { card, linked: linked(card, shown) };
    })
    .finally(cardOut.open);
  // The announcement carries the channel link, so it follows the channel (or goes at once without
  // one). A backend record asked for with the channel (`recordWithChannel`) is usually answered
  // while the card is in flight: the announcement waits for it, but no longer than the card's
  // answer, and so goes out with its link and needs no edit. It holds nothing else up meanwhile.
  const announceP = announceChannel(deps)
    ? channelP
        .then(async (channel) => {
          await cardOut.gate;
          if (channel && !backendRef && recordWithChannel) {
            announceOut.open();
            await Promise.race([backendP.then(noop, noop), cardP.then(noop, noop)]);
          }
          const shown = current(channel);
          const posted = await postAnnouncement(deps, flowId, shown, roles, payload.channel === 'auto' && !wantsChannel, announceOut.sent, how);
          return { linked: linked(posted, shown) };
        })
        .finally(announceOut.open)
    : Promise.resolve({ linked: true }).finally(announceOut.open);
  /** The channel, once the card and the announcement are on their way (or their steps settled) and the incident's row has it. */
  const afterPosts = channelP.then(async (channel) => {
    await Promise.all([cardOut.gate, announceOut.gate, channelKept]);
    return channel;
  });

  // The card's intent is awaited by the card's step only when the channel came: listed here too, so
  // that its write failing after a failed channel fails the run (and is retried) instead of being
  // an unhandled rejection.
  const tasks: Promise<unknown>[] = [backendP, cardP, announceP, channelKept, ...(cardIntent ? [cardIntent] : [])];

  tasks.push(
    afterPosts.then(async (channel) => {
      if (!channel) return;
      await Promise.all([
        step(
          deps,
          flowId,
          'invite',
          async () => {
            const users = [inc.declaredBy, inc.commanderId, payload.openedBy, ...deps.config.file.responders].filter((u): u is string => !!u);
            await deps.chat.invite(channel.id, users);
            return true;
          },
          how,
        ),
        step(
          deps,
          flowId,
          'topic',
          async () => {
            await setIncidentTopic(deps, inc, channel.id, roles);
            return true;
          },
          how,
        ),
      ]);
    }),
  );

  tasks.push(
    cardP.then(async (posted) => {
      if (!posted) return;
      const channel = (await channelP)!;
      await Promise.all([
        step(
          deps,
          flowId,
          'pin',
          async () => {
            await deps.chat.pin(channel.id, posted.card.ts);
            return true;
          },
          how,
        ),
        // The brief, if its job wrote it before the card was recorded (here or in an earlier run).
        postBriefAfterCard(deps, current(channel)),
      ]);
    }),
    // The brief comes after the card in the channel, on its own job (Claude never holds up the
    // flow): queued as the card goes out and written while it is in flight; posted by whichever
    // of the job and this flow comes second, the brief written or the card recorded (see `postBrief`).
    afterPosts.then(async (channel) => {
      if (channel) await deps.jobs.enqueue(briefJob, { incidentId: inc.id, after: { flowId, step: 'card' } });
    }),
  );

  // The card's edit with the backend link is the last call of a declaration whose card went out
  // before the link existed (always with incident.io, whose record needs the channel): it goes to
  // Slack first when the record arrives, and the bookmark, the write-back and the announcement's
  // edit, which nobody waits for, spend their store round trips after it is on the wire. A record
  // that arrives while the card is still in flight (Rootly's create goes out with the channel's)
  // holds nothing up: the edit then waits for the card's answer anyway.
  const linkOut = handedOver();
  let cardSettled = false;
  cardP.then(
    () => (cardSettled = true),
    () => (cardSettled = true),
  );
  backendP.then(
    () => (cardSettled ? undefined : linkOut.open()),
    () => linkOut.open(),
  );
  // What needs both the channel and the backend record: the bookmark to the record, and the channel written back to it.
  tasks.push(
    Promise.all([backendP, afterPosts, linkOut.gate]).then(async ([ref, channel]) => {
      if (!channel) return;
      const links: Promise<unknown>[] = [];
      if (ref.url) {
        const url = ref.url;
        links.push(
          stepWithIntent(deps, flowId, 'bookmark', {
            ...how,
            find: async () => ((await deps.chat.listBookmarks(channel.id)).some((b) => b.link === url) ? true : undefined),
            run: async () => {
              await deps.chat.addBookmark(channel.id, `${incidentLabel(inc)} in ${backendLabel(deps.backend.name)}`, url);
              return true;
            },
          }),
        );
      }
      if (deps.backend.name !== 'local') {
        links.push(
          step(
            deps,
            flowId,
            'backend.channel',
            async () => {
              await deps.backend.updateIncident(
                { firebreakId: inc.id, backendId: ref.backendId },
                { slackChannel: { id: channel.id, name: channel.name, url: deps.chat.permalink(channel.id) } },
              );
              return true;
            },
            how,
          ),
        );
      }
      await Promise.all(links);
    }),
  );

  // The card and announcement that went out before the backend link existed, each rendered once
  // more as soon as the link and its own post are there (not behind the other, the write-back or
  // the pin). Two steps: the card's refresh is on the critical path, the announcement's is not.
  tasks.push(
    // Both re-read the incident's row: it has the channel by then (channelKept).
    Promise.all([backendP, cardP, channelKept])
      .then(async ([ref, card]) => {
        if (!ref.url || !card || card.linked) return;
        await step(
          deps,
          flowId,
          'views.linked',
          async () => {
            await refreshIncidentViews(deps, inc.id, { card: true }, linkOut.sent);
            return true;
          },
          how,
        );
      })
      .finally(linkOut.open),
    Promise.all([backendP, announceP, linkOut.gate, channelKept]).then(async ([ref, announced]) => {
      if (!ref.url || announced.linked) return;
      await step(
        deps,
        flowId,
        'views.linked.announcement',
        async () => {
          await refreshIncidentViews(deps, inc.id, { announcement: true });
          return true;
        },
        how,
      );
    }),
  );

  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const done = (await deps.store.getIncident(inc.id))!;
  // "Open a channel" later: the announcement posted without a channel now links to it.
  if (payload.openedBy) await deps.jobs.enqueue(refreshJob, { incidentId: inc.id }, { key: `${inc.id}:${done.version}` });
  if (done.channelId) await deps.jobs.enqueue(onCallInviteJob, { incidentId: inc.id });
  await scheduleReminder(deps, inc.id);
  await deps.store.audit({ at: deps.clock.now(), incidentId: inc.id, actor: 'system', action: 'incident.flow_completed', detail: { channel: done.channelId } });
  // Runbooks marked `auto` that match start now that the channel exists (once per incident and runbook).
  if (done.channelId && deps.config.runbooks.some((r) => r.auto)) await deps.jobs.enqueue(runbookAutoStartJob, { incidentId: inc.id });
}

async function ensureBackendRecord(
  deps: Deps,
  flowId: string,
  incident: Incident,
  channel: { id: string; name: string } | null,
  how: StepRun,
  cardOut?: Promise<void>,
): Promise<{ backendId: string; url: string | null }> {
  if (incident.backendId) return { backendId: incident.backendId, url: incident.backendUrl };
  const ref = await step(
    deps,
    flowId,
    'backend',
    async () => {
      const created = await deps.backend.createIncident({
        firebreakId: incident.id,
        title: incident.title,
        summary: incident.description,
        severity: incident.severity,
        private: incident.private,
        services: incident.services,
        // The Slack id is how both backends find the person; no users.info round trip ahead of the create.
        commander: incident.commanderId ? { slackUserId: incident.commanderId, email: null, name: null } : null,
        ...(channel ? { slackChannel: { id: channel.id, name: channel.name, url: deps.chat.permalink(channel.id) } } : {}),
      });
      // Asked for with the channel, the record is answered about when the channel is, while the
      // card is being posted: its records wait until the card is on the wire.
      await cardOut;
      return created;
    },
    how,
  );
  await deps.store.updateIncident(incident.id, { backendId: ref.backendId, backendUrl: ref.url, updatedAt: deps.clock.now() });
  return ref;
}

/**
 * The incident channel (recorded as the flow's step; the incident's row gets it from the flow, once
 * the card is on its way). Names are reserved in the store before Slack is asked (first writer wins),
 * so concurrent declares, even on different replicas, never race for one name; a name Slack
 * already has (`name_taken`) moves on to `-2`, `-3`, ...
 */
async function ensureChannel(deps: Deps, flowId: string, incident: Incident, how: StepRun, onSend?: () => void): Promise<{ id: string; name: string }> {
  if (incident.channelId && incident.channelName) return { id: incident.channelId, name: incident.channelName };
  const channel = await step(
    deps,
    flowId,
    'channel',
    async () => {
      const base = renderChannelName(deps.config.file.channel.name_template, {
        date: incident.createdAt,
        title: incident.title,
        seq: incident.seq,
        severity: incident.severity,
      });
      for (let attempt = 1; attempt <= 50; attempt++) {
        const name = withCollisionSuffix(base, attempt);
        const owner = await deps.store.putStep('channel-names', name, incident.id);
        if (owner !== incident.id) continue; // reserved by another incident
        // Did an earlier run of this flow already ask Slack for this name (and die before recording)?
        // One write tells: first writer wins, so a mark other than this run's own is an earlier run's.
        const mark = deps.newId();
        const resumed = (await deps.store.putStep(flowId, `channel.attempted:${name}`, mark)) !== mark;
        try {
          const created = deps.chat.createChannel(name, incident.private);
          onSend?.();
          return await created;
        } catch (err) {
          if (!(err instanceof ChatError) || err.slackError !== 'name_taken') throw err;
          // Ours from a run that died after Slack created it but before we recorded it? Adopt it, but
          // only a channel the bot created, as private as the incident: the earlier attempt may never
          // have reached Slack, and anyone may have made a channel of this name since (the template
          // is no secret). A private incident's card in someone's public channel would leak it.
          const existing = await deps.chat.findChannelByName(name);
          if (existing && resumed && existing.creator === deps.chat.botUserId() && existing.isPrivate === incident.private) {
            const holder = await deps.store.findIncidentByChannel(existing.id);
            if (!holder) return { id: existing.id, name: existing.name };
          }
        }
      }
      throw new ChatError('name_taken', 'No free channel name after 50 attempts');
    },
    how,
  );
  return channel;
}
