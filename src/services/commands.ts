import type { Command } from '../domain/command.js';
import { incidentLabel, isOpen, type Incident } from '../domain/incident.js';
import type { Block } from '../ports/chat.js';
import type { TimelineEntry } from '../ports/store.js';
import { declareOrOffer, slackDeclareInput, type DeclareOutcome } from './declare.js';
import type { Deps } from './deps.js';
import { assignRole, changeSeverity, changeStatus, incidentInChannel, postUpdate } from './lifecycle.js';
import { postPostmortem, postSummary } from './summaries.js';
import { exposedChannel } from './incident-views.js';
import { auditLog, proposeAction } from './approvals.js';
import { runbookCommand } from './runbooks.js';
import { postStats } from './insights.js';
import { requestPage, whoIsOnCall } from './paging.js';
import { createFollowup, listIncidentFollowups } from './followups.js';

export interface Reply {
  text: string;
  blocks?: Block[];
  inChannel?: boolean;
}

/**
 * What a subcommand answers: words (`Reply`), or data the listener renders (slack/blocks/incident.ts):
 * the outcome of a declare, the open incidents, or one incident's status.
 */
export type CommandAnswer =
  | Reply
  | { view: 'declared'; outcome: DeclareOutcome }
  | { view: 'list'; incidents: Incident[] }
  | { view: 'status'; incident: Incident; roles: Record<string, string>; latest: TimelineEntry[] };

export interface CommandContext {
  userId: string;
  channelId: string;
  triggerId: string;
}

/** Every `/incident` subcommand other than help and the modal: one service call each. */
export async function runIncidentCommand(deps: Deps, c: Command, ctx: CommandContext): Promise<CommandAnswer | null> {
  switch (c.kind) {
    case 'declare': {
      const input = slackDeclareInput({
        title: c.title,
        severity: c.severity,
        userId: ctx.userId,
        channelId: ctx.channelId,
        dedupeKey: `cmd:${ctx.triggerId}`,
      });
      return { view: 'declared', outcome: await declareOrOffer(deps, input) };
    }
    case 'list':
      return { view: 'list', incidents: await deps.store.listOpenIncidents() };
    case 'status': {
      const incident = await incidentInChannel(deps, ctx.channelId);
      const roles = await deps.store.getRoles(incident.id);
      const latest = (await deps.store.listTimeline(incident.id)).slice(-5);
      return { view: 'status', incident, roles, latest };
    }
    case 'update': {
      const i = await incidentInChannel(deps, ctx.channelId);
      await postUpdate(deps, i.id, c.text, ctx.userId);
      return null;
    }
    case 'sev': {
      const i = await incidentInChannel(deps, ctx.channelId);
      const after = await changeSeverity(deps, i.id, c.severity, ctx.userId);
      return after.severity === i.severity && i.severity === c.severity ? { text: `Severity is already ${c.severity}.` } : null;
    }
    case 'role': {
      const i = await incidentInChannel(deps, ctx.channelId);
      await assignRole(deps, i.id, c.role, c.userId, ctx.userId);
      return null;
    }
    case 'mitigate':
    case 'resolve': {
      const i = await incidentInChannel(deps, ctx.channelId);
      const to = c.kind === 'mitigate' ? 'mitigated' : 'resolved';
      const after = await changeStatus(deps, i.id, to, ctx.userId, c.message);
      return after.status === to && i.status === to ? { text: `${incidentLabel(i)} is already ${to}.` } : null;
    }
    case 'summary': {
      const i = await incidentInChannel(deps, ctx.channelId);
      // In a private incident's public channel the summary is for the one who asked only.
      const privately = await postSummary(deps, i.id, ctx.userId);
      return privately ? { text: privately } : null;
    }
    case 'postmortem': {
      const i = await incidentInChannel(deps, ctx.channelId);
      const outcome = await postPostmortem(deps, i.id, ctx.userId);
      const withheld = !!i.channelId && (await exposedChannel(deps, { ...i, channelId: i.channelId }));
      return {
        text: withheld
          ? `Post-mortem draft written, not posted here: this incident is private and this channel is public.${outcome === 'saved' ? ' It is saved to the backend.' : ''}`
          : outcome === 'saved'
            ? 'Post-mortem draft posted and saved to the backend.'
            : isOpen(i.status)
              ? 'Post-mortem draft posted. It is saved to the backend when the incident is resolved.'
              : 'Post-mortem draft posted.',
      };
    }
    case 'action': {
      const i = await incidentInChannel(deps, ctx.channelId);
      await proposeAction(deps, { incidentId: i.id, actionId: c.actionId, rawParams: c.params, reason: '', proposedBy: ctx.userId, proposerKind: 'user' });
      return null;
    }
    case 'runbook': {
      const i = await incidentInChannel(deps, ctx.channelId);
      const text = await runbookCommand(deps, i, c.runbookId, ctx.userId);
      return text ? { text } : null;
    }
    case 'audit': {
      const i = await incidentInChannel(deps, ctx.channelId);
      return { text: await auditLog(deps, i.id) };
    }
    case 'stats':
      return postStats(deps, { days: c.days, service: c.service, severity: c.severity }, { channelId: ctx.channelId, userId: ctx.userId });
    case 'page': {
      const i = await incidentInChannel(deps, ctx.channelId);
      return { text: await requestPage(deps, { incidentId: i.id, target: c.target, message: c.message, actor: ctx.userId }) };
    }
    case 'oncall':
      return { text: await whoIsOnCall(deps, c.service) };
    case 'followup': {
      const i = await incidentInChannel(deps, ctx.channelId);
      await createFollowup(deps, { incidentId: i.id, ...c.draft, source: 'command', sourceRef: `cmd:${ctx.triggerId}`, actor: ctx.userId });
      return null; // announced in the channel
    }
    case 'followups': {
      const i = await incidentInChannel(deps, ctx.channelId);
      return listIncidentFollowups(deps, i.id);
    }
    case 'help':
    case 'declare_modal':
      return null; // answered in the listener
  }
}
