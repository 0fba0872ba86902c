import { z } from 'zod';
import { incidentLabel, isOpen } from '../domain/incident.js';
import { PAGE_CHECK_FOR_MS, pageCheckDelayMs, pageKey, resolveTarget, type OnCallPerson, type PageTarget, type TargetDefinition } from '../domain/oncall.js';
import { AppError, BackendError } from '../errors.js';
import { onCallList, pageAcknowledged, pageFailed, pagePosted } from '../slack/blocks/followthrough.js';
import type { Page, PageAcker } from '../ports/followthrough-store.js';
import type { PageAck } from '../ports/oncall.js';
import { escapeText } from '../slack/mrkdwn.js';
import { isUserId, personText } from '../slack/ids.js';
import type { Deps } from './deps.js';
import { defineJob, PermanentJobError } from './jobs.js';
import { requireIncident } from './lifecycle.js';
import { step } from './steps.js';

const PagePayload = z.object({ incidentId: z.string(), targetKey: z.string(), target: z.string() });
const InvitePayload = z.object({ incidentId: z.string() });
/** `push`: a check the source asked for (a webhook said the page changed); it schedules no next check. */
const StatusPayload = z.object({ incidentId: z.string(), targetKey: z.string(), n: z.number().int().min(0), push: z.boolean().optional() });
const PagerDutyAckPayload = z.object({ incidentKey: z.string(), service: z.string().nullable(), agent: z.string().nullable(), at: z.string().nullable() });

/** The paging targets firebreak.yml declares, as the domain sees them. */
export function configuredTargets(deps: Deps): TargetDefinition[] {
  return deps.config.file.oncall.targets.map((t) => ({ name: t.name, kind: t.type, id: t.id, routingKeyEnv: t.routing_key_env }));
}

/**
 * Page a target for an incident, once: the (incident, target) row is inserted first, so of any
 * number of clicks or commands, on any number of replicas, one enqueues the page. The page itself
 * is a job (keyed the same way): a backend outage delays it, it is never lost or doubled.
 */
export async function requestPage(deps: Deps, input: { incidentId: string; target: string; message: string; actor: string }): Promise<string> {
  const incident = await requireIncident(deps, input.incidentId);
  if (!isOpen(incident.status))
    throw new AppError('incident.bad_transition', `${incidentLabel(incident)} is ${incident.status}; paging is for open incidents.`);
  const targets = configuredTargets(deps);
  const target = resolveTarget(input.target, targets);
  if (!target)
    throw new AppError(
      'input.invalid',
      `No paging target \`${input.target}\`. ${targets.length ? `Targets: ${targets.map((t) => t.name).join(', ')}, or @person.` : 'Name a person with @, or add targets under `oncall.targets` in firebreak.yml.'}`,
    );
  const key = pageKey(incident.id, target);
  const now = deps.clock.now();
  const inserted = await deps.store.insertPage({
    incidentId: incident.id,
    targetKey: key,
    targetName: target.name,
    message: input.message.slice(0, 1000),
    pagedBy: input.actor,
    createdAt: now,
  });
  if (!inserted) {
    const prev = await deps.store.getPage(incident.id, key);
    return `${target.name} was already paged for ${incidentLabel(incident)}${prev ? ` by <@${prev.pagedBy}> (${prev.state})` : ''}; one page per target.`;
  }
  await deps.store.audit({ at: now, incidentId: incident.id, actor: input.actor, action: 'oncall.page_requested', detail: { target: target.name } });
  await deps.jobs.enqueue(pageJob, { incidentId: incident.id, targetKey: key, target: input.target });
  return `Paging ${target.name}…`;
}

export async function runPage(deps: Deps, p: z.output<typeof PagePayload>): Promise<void> {
  const page = await deps.store.getPage(p.incidentId, p.targetKey);
  if (!page || page.state === 'failed') return;
  const incident = await requireIncident(deps, p.incidentId);
  const target: PageTarget | null = resolveTarget(p.target, configuredTargets(deps));
  if (!target) throw new PermanentJobError(`paging target ${p.target} is no longer configured`);
  const flow = `page:${p.targetKey}`;
  if (page.state === 'pending') {
    if (!incident.backendId) throw new Error('backend record not created yet'); // retried after the declare flow
    const u = target.kind === 'slack_user' ? await deps.chat.userInfo(target.slackUserId).catch(() => null) : null;
    try {
      const res = await deps.oncall.page({
        incident: {
          firebreakId: incident.id,
          backendId: incident.backendId,
          title: `${incidentLabel(incident)} ${incident.title}`,
          severity: incident.severity,
          url: incident.channelId ? deps.chat.permalink(incident.channelId) : incident.backendUrl,
        },
        target,
        user: target.kind === 'slack_user' ? { slackUserId: target.slackUserId, email: u?.email ?? null, name: u?.name ?? null } : null,
        message: page.message,
        idempotencyKey: p.targetKey,
      });
      await deps.store.patchPage(p.incidentId, p.targetKey, { state: 'sent', externalId: res.externalId, sentAt: deps.clock.now() });
      await deps.store.audit({
        at: deps.clock.now(),
        incidentId: incident.id,
        actor: page.pagedBy,
        action: 'oncall.paged',
        detail: { target: page.targetName, externalId: res.externalId },
      });
      await deps.store.addTimeline({
        incidentId: incident.id,
        at: deps.clock.now(),
        kind: 'page',
        text: `Paged ${personText(page.targetName)}`,
        author: page.pagedBy,
        sourceRef: flow,
      });
      // A source that can be asked is asked, with backoff, until the page is acknowledged.
      if (deps.oncall.pageStatus)
        await deps.jobs.enqueue(pageStatusJob, { incidentId: incident.id, targetKey: p.targetKey, n: 0 }, { delayMs: pageCheckDelayMs(0) });
    } catch (err) {
      // Refused for good (unknown target, bad routing key): say so once, and stop retrying.
      if (!(err instanceof BackendError && (err.code === 'backend.validation' || err.code === 'backend.auth' || err.code === 'backend.not_found'))) throw err;
      await deps.store.patchPage(p.incidentId, p.targetKey, { state: 'failed', error: err.message });
      if (incident.channelId) await deps.chat.post(incident.channelId, pageFailed(page, err.message));
      return;
    }
  }
  const sent = (await deps.store.getPage(p.incidentId, p.targetKey))!;
  if (incident.channelId) {
    const channel = incident.channelId;
    await step(deps, flow, 'posted', async () => {
      const m = pagePosted(sent, incident);
      const posted = await deps.chat.post(channel, m.text, m.blocks);
      return posted.ts;
    });
  }
}

/**
 * A paged person acknowledged (a status check or a PagerDuty webhook said so): recorded once
 * (compare-and-set), then said in the channel with who and when, written to the timeline and the
 * audit log, and shown on the page message. The status checks stop: the page is no longer `sent`.
 */
export async function recordPageAck(deps: Deps, page: Page, ack: PageAck): Promise<void> {
  const acker = await resolveAcker(deps, ack.by);
  const acked = await deps.store.ackPage(page.incidentId, page.targetKey, { at: ack.at, ...acker });
  if (!acked) return;
  const flow = `page:${page.targetKey}`;
  await deps.store.audit({
    at: deps.clock.now(),
    incidentId: page.incidentId,
    actor: acker.ackedByUser ?? 'system',
    action: 'oncall.page_acknowledged',
    detail: { target: page.targetName, by: acker.ackedByUser, name: acker.ackedByName, at: ack.at.toISOString() },
  });
  // Record text: only a resolved id is a mention (and the line's author); the source's name is escaped.
  const who = acker.ackedByUser ? `<@${acker.ackedByUser}>` : acker.ackedByName ? escapeText(acker.ackedByName) : 'Someone';
  await deps.store.addTimeline({
    incidentId: page.incidentId,
    at: ack.at,
    kind: 'page',
    text: `${who} acknowledged the page to ${personText(page.targetName)}`,
    author: acker.ackedByUser,
    sourceRef: `${flow}:ack`,
  });
  const incident = await deps.store.getIncident(page.incidentId);
  if (!incident?.channelId) return;
  const channel = incident.channelId;
  await step(deps, flow, 'ack-posted', async () => {
    const m = pageAcknowledged(acked);
    return (await deps.chat.post(channel, m.text, m.blocks)).ts;
  });
  // The page message shows it too.
  const ts = await deps.store.getStep<string>(flow, 'posted');
  if (ts) {
    const m = pagePosted(acked, incident);
    await deps.chat
      .update(channel, ts, m.text, m.blocks)
      .catch((err) => deps.logger.warn({ err, incidentId: incident.id }, 'updating the page message failed'));
  }
}

/**
 * Who acknowledged, as the source says: the Slack user id it names or, from the email it gives,
 * the one Slack knows (users.lookupByEmail), is a person the bot may mention; the name (or the
 * email) is only text. A name is never read as an id, however it is spelled: PagerDuty's agent
 * and a backend's user name are whatever someone typed there.
 */
async function resolveAcker(deps: Deps, by: PageAck['by']): Promise<PageAcker> {
  if (!by) return { ackedByUser: null, ackedByName: null };
  const given = by.slackUserId && isUserId(by.slackUserId) ? by.slackUserId : null;
  const looked = given ?? (by.email ? await deps.chat.lookupByEmail(by.email).catch(() => null) : null);
  return { ackedByUser: looked && isUserId(looked) ? looked : null, ackedByName: by.name ?? by.email };
}

/**
 * Ask the source whether a sent page was acknowledged (Rootly, incident.io). Not yet: ask again
 * later, backing off to every 10 minutes, for a day at most, while the incident is open. A failed
 * check is not an incident problem: it is logged and the next one is scheduled.
 */
export async function checkPageStatus(deps: Deps, p: z.output<typeof StatusPayload>): Promise<void> {
  const page = await deps.store.getPage(p.incidentId, p.targetKey);
  if (page?.state !== 'sent' || !page.externalId || !deps.oncall.pageStatus) return;
  const incident = await deps.store.getIncident(p.incidentId);
  if (!incident || !isOpen(incident.status)) return;
  try {
    const status = await deps.oncall.pageStatus(page.externalId);
    if (status.state === 'acknowledged' && status.ack) return recordPageAck(deps, page, status.ack);
    if (status.state !== 'open') return;
  } catch (err) {
    if (!(err instanceof BackendError)) throw err;
    deps.logger.warn(
      { incidentId: p.incidentId, target: page.targetName, code: err.code },
      'checking a page for an acknowledgement failed; trying again later',
    );
  }
  if (p.push) return; // the scheduled checks go on as planned
  const sentAt = page.sentAt ?? page.createdAt;
  const delayMs = pageCheckDelayMs(p.n + 1);
  if (deps.clock.now().getTime() + delayMs - sentAt.getTime() > PAGE_CHECK_FOR_MS) return;
  await deps.jobs.enqueue(pageStatusJob, { incidentId: p.incidentId, targetKey: p.targetKey, n: p.n + 1 }, { delayMs });
}

/**
 * PagerDuty said (V3 webhook `incident.acknowledged`) that the incident raised by our page was
 * acknowledged: its `incident_key` is our dedup key, the incident id. Several targets share it
 * (one PagerDuty service each): the one whose name is the PagerDuty service's, or the only one.
 */
export async function applyPagerDutyAck(deps: Deps, p: z.output<typeof PagerDutyAckPayload>): Promise<void> {
  const pages = (await deps.store.listPages(p.incidentKey)).filter((x) => x.state === 'sent' && x.externalId === p.incidentKey);
  const page = pages.length === 1 ? pages[0] : pages.find((x) => p.service && x.targetName.toLowerCase() === p.service.toLowerCase());
  if (!page) {
    if (pages.length) deps.logger.warn({ incidentId: p.incidentKey, service: p.service }, 'a PagerDuty acknowledgement matched no single paged target');
    return;
  }
  await recordPageAck(deps, page, { at: p.at ? new Date(p.at) : deps.clock.now(), by: p.agent ? { slackUserId: null, email: null, name: p.agent } : null });
}

const EscalationUpdated = z.union([
  z.object({
    event_type: z.literal('public_escalation.escalation_status_updated_v1'),
    'public_escalation.escalation_status_updated_v1': z.looseObject({ escalation: z.looseObject({ id: z.string().min(1) }) }),
  }),
  // The private variant carries only the escalation's id (incident.io's webhook reference).
  z.object({
    event_type: z.literal('private_escalation.escalation_status_updated_v1'),
    'private_escalation.escalation_status_updated_v1': z.looseObject({ id: z.string().min(1) }),
  }),
]);

/**
 * incident.io's push: `public_escalation.escalation_status_updated_v1` (or its private variant,
 * which names only the id) says an escalation's status changed. For one of our pages still
 * waiting, check it now (the escalation itself says who acknowledged; the webhook is only the
 * prompt, so the private variant loses nothing). Returns whether the webhook was about a page of ours.
 */
export async function onEscalationUpdated(deps: Deps, body: unknown, deliveryId: string): Promise<'checking' | 'not_ours' | null> {
  const e = EscalationUpdated.safeParse(body);
  if (!e.success) return null;
  const escalationId =
    e.data.event_type === 'public_escalation.escalation_status_updated_v1'
      ? e.data['public_escalation.escalation_status_updated_v1'].escalation.id
      : e.data['private_escalation.escalation_status_updated_v1'].id;
  const page = await deps.store.findPageByExternalId(escalationId);
  if (page?.state !== 'sent') return 'not_ours';
  await deps.jobs.enqueue(
    pageStatusJob,
    { incidentId: page.incidentId, targetKey: page.targetKey, n: 0, push: true },
    { key: `${page.targetKey}:push:${deliveryId}` },
  );
  return 'checking';
}

/** Who is on call for one service (or every mapped service). */
export async function whoIsOnCall(deps: Deps, service: string | null): Promise<string> {
  const map = deps.config.file.oncall.services;
  const names = service ? [service] : Object.keys(map);
  if (service && !map[service])
    throw new AppError(
      'input.invalid',
      `\`${service}\` is not mapped to an on-call schedule. Mapped: ${Object.keys(map).join(', ') || 'none (firebreak.yml oncall.services)'}.`,
    );
  const now = deps.clock.now();
  const rows = await Promise.all(
    names.map(async (s) => {
      try {
        const people = await resolveSlackIds(deps, await deps.oncall.onCallNow(map[s]!.schedule, now));
        return { service: s, people };
      } catch (err) {
        return { service: s, people: null, error: err instanceof AppError ? err.message : 'lookup failed' };
      }
    }),
  );
  return onCallList(rows);
}

/** Rootly gives emails only: find their Slack ids (users.lookupByEmail needs users:read.email). */
async function resolveSlackIds(deps: Deps, people: OnCallPerson[]): Promise<OnCallPerson[]> {
  return Promise.all(
    people.map(async (p) => (p.slackUserId || !p.email ? p : { ...p, slackUserId: await deps.chat.lookupByEmail(p.email).catch(() => null) })),
  );
}

/** Invite the current on-call people of the incident's services into its channel (once per incident). */
export async function inviteOnCall(deps: Deps, { incidentId }: z.output<typeof InvitePayload>): Promise<void> {
  const incident = await requireIncident(deps, incidentId);
  if (!incident.channelId || !deps.config.file.oncall.auto_invite) return;
  const map = deps.config.file.oncall.services;
  const schedules = [...new Set(incident.services.map((s) => map[s]?.schedule).filter((s): s is string => !!s))];
  if (!schedules.length) return;
  const now = deps.clock.now();
  const people = (await Promise.all(schedules.map((s) => deps.oncall.onCallNow(s, now).then((p) => resolveSlackIds(deps, p))))).flat();
  const ids = [...new Set(people.map((p) => p.slackUserId).filter((u): u is string => !!u))];
  if (!ids.length) return;
  const channel = incident.channelId;
  await step(deps, `oncall-invite:${incidentId}`, 'invited', async () => {
    await deps.chat.invite(channel, ids);
    await deps.chat.post(
      channel,
      `:telephone_receiver: On call for ${escapeText(incident.services.filter((s) => map[s]).join(', '))}: ${ids.map((u) => `<@${u}>`).join(', ')} — invited to this channel.`,
    );
    await deps.store.audit({ at: deps.clock.now(), incidentId, actor: 'system', action: 'oncall.invited', detail: { users: ids } });
    return ids;
  });
}

/** Send one page (keyed by incident and target: one job per page however often it is asked for). */
export const pageJob = defineJob({ kind: 'oncall.page', payload: PagePayload, key: (p) => p.targetKey, run: runPage });
/** Invite the on-call people of the incident's services, once per incident. */
export const onCallInviteJob = defineJob({ kind: 'oncall.invite', payload: InvitePayload, key: (p) => p.incidentId, run: inviteOnCall });
/** One status check of a page (keyed by the page and the check's number: each check runs once). */
export const pageStatusJob = defineJob({ kind: 'oncall.page_status', payload: StatusPayload, key: (p) => `${p.targetKey}:${p.n}`, run: checkPageStatus });
/** A PagerDuty acknowledgement (keyed by the webhook delivery by the route). */
export const pagerDutyAckJob = defineJob({ kind: 'oncall.pagerduty_ack', payload: PagerDutyAckPayload, run: applyPagerDutyAck });
export const pagingJobs = [pageJob, onCallInviteJob, pageStatusJob, pagerDutyAckJob];
