import { z } from 'zod';
import { incidentLabel, isOpen } from '../domain/incident.js';
import { pageKey, resolveTarget, type OnCallPerson, type PageTarget, type TargetDefinition } from '../domain/oncall.js';
import { AppError, BackendError } from '../errors.js';
import { onCallList, pageFailed, pagePosted } from '../slack/blocks/followthrough.js';
import { escapeText } from '../slack/mrkdwn.js';
import type { Deps } from './deps.js';
import { defineJob, PermanentJobError } from './jobs.js';
import { requireIncident } from './lifecycle.js';
import { step } from './steps.js';

const PagePayload = z.object({ incidentId: z.string(), targetKey: z.string(), target: z.string() });
const InvitePayload = z.object({ incidentId: z.string() });

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
  if (!isOpen(incident.status)) throw new AppError('incident.bad_transition', `${incidentLabel(incident)} is ${incident.status}; paging is for open incidents.`);
  const targets = configuredTargets(deps);
  const target = resolveTarget(input.target, targets);
  if (!target)
    throw new AppError('input.invalid', `No paging target \`${input.target}\`. ${targets.length ? `Targets: ${targets.map((t) => t.name).join(', ')}, or @person.` : 'Name a person with @, or add targets under `oncall.targets` in firebreak.yml.'}`);
  const key = pageKey(incident.id, target);
  const now = deps.clock.now();
  const inserted = await deps.store.insertPage({ incidentId: incident.id, targetKey: key, targetName: target.name, message: input.message.slice(0, 1000), pagedBy: input.actor, createdAt: now });
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
        incident: { firebreakId: incident.id, backendId: incident.backendId, title: `${incidentLabel(incident)} ${incident.title}`, severity: incident.severity, url: incident.channelId ? deps.chat.permalink(incident.channelId) : incident.backendUrl },
        target,
        user: target.kind === 'slack_user' ? { slackUserId: target.slackUserId, email: u?.email ?? null, name: u?.name ?? null } : null,
        message: page.message,
        idempotencyKey: p.targetKey,
      });
      await deps.store.patchPage(p.incidentId, p.targetKey, { state: 'sent', externalId: res.externalId, sentAt: deps.clock.now() });
      await deps.store.audit({ at: deps.clock.now(), incidentId: incident.id, actor: page.pagedBy, action: 'oncall.paged', detail: { target: page.targetName, externalId: res.externalId } });
      await deps.store.addTimeline({ incidentId: incident.id, at: deps.clock.now(), kind: 'page', text: `Paged ${page.targetName}`, author: page.pagedBy, sourceRef: flow });
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

/** Who is on call for one service (or every mapped service). */
export async function whoIsOnCall(deps: Deps, service: string | null): Promise<string> {
  const map = deps.config.file.oncall.services;
  const names = service ? [service] : Object.keys(map);
  if (service && !map[service]) throw new AppError('input.invalid', `\`${service}\` is not mapped to an on-call schedule. Mapped: ${Object.keys(map).join(', ') || 'none (firebreak.yml oncall.services)'}.`);
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
  return Promise.all(people.map(async (p) => (p.slackUserId || !p.email ? p : { ...p, slackUserId: await deps.chat.lookupByEmail(p.email).catch(() => null) })));
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
    await deps.chat.post(channel, `:telephone_receiver: On call for ${escapeText(incident.services.filter((s) => map[s]).join(', '))}: ${ids.map((u) => `<@${u}>`).join(', ')} — invited to this channel.`);
    await deps.store.audit({ at: deps.clock.now(), incidentId, actor: 'system', action: 'oncall.invited', detail: { users: ids } });
    return ids;
  });
}

/** Send one page (keyed by incident and target: one job per page however often it is asked for). */
export const pageJob = defineJob({ kind: 'oncall.page', payload: PagePayload, key: (p) => p.targetKey, run: runPage });
/** Invite the on-call people of the incident's services, once per incident. */
export const onCallInviteJob = defineJob({ kind: 'oncall.invite', payload: InvitePayload, key: (p) => p.incidentId, run: inviteOnCall });
export const pagingJobs = [pageJob, onCallInviteJob];
