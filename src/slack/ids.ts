import { escapeText } from './mrkdwn.js';

/**
 * Every Slack action_id, callback_id and block_id the bot uses, in one place. Listeners bind these
 * to callbacks; block builders put them on elements. Values are stable wire names: renaming one
 * breaks buttons on messages already posted.
 */
export const COMMAND = '/incident';

export const Actions = {
  cardUpdateStatus: 'card_update_status',
  cardChangeSeverity: 'card_change_severity',
  cardAssignRole: 'card_assign_role',
  cardSummarize: 'card_summarize',
  cardProposeAction: 'card_propose_action',
  cardResolve: 'card_resolve',
  cardTakeCommand: 'card_take_command',
  announceOpenChannel: 'announce_open_channel',
  approve: 'approval_approve',
  deny: 'approval_deny',
  duplicateJoin: 'duplicate_join',
  duplicateDeclareAnyway: 'duplicate_declare_anyway',
  openChannelLink: 'open_channel_link',
  proposeActionPick: 'propose_action_pick',
  stormSplitOut: 'storm_split_out',
  /** Value: `<runbook id> <incident id>` (the card's offer). */
  runbookStart: 'runbook_start',
  /** Value of the step buttons: `<run id> <step index>`. */
  runbookCheck: 'runbook_check',
  runbookRetry: 'runbook_retry',
  runbookSkip: 'runbook_skip',
  /** Value: the run id. */
  runbookCancel: 'runbook_cancel',
  /** Value: `<run id> <step index>`; the answer is in the action id. */
  runbookFeedbackYes: 'runbook_feedback_yes',
  runbookFeedbackNo: 'runbook_feedback_no',
  runbookFeedbackUnsure: 'runbook_feedback_unsure',
  /** After resolve, for a remediation proposed outside a runbook. Value: the approval id. */
  remediationNeededYes: 'remediation_needed_yes',
  remediationNeededNo: 'remediation_needed_no',
  remediationNeededUnsure: 'remediation_needed_unsure',
  cardPage: 'card_page',
  reminderSnooze: 'reminder_snooze',
  reminderSnoozeLong: 'reminder_snooze_long',
  followupAccept: 'followup_accept',
  followupDone: 'followup_done',
} as const;

export const Views = {
  declare: 'declare_modal',
  duplicate: 'duplicate_modal',
  status: 'status_modal',
  severity: 'severity_modal',
  role: 'role_modal',
  resolve: 'resolve_modal',
  propose: 'propose_modal',
  deny: 'deny_modal',
  page: 'page_modal',
  followup: 'followup_modal',
} as const;

/** Message shortcuts (callback ids; declared in manifest.yml). */
export const Shortcuts = {
  followup: 'followup_from_message',
} as const;

/** Input blocks of the declare modal; each block holds one element whose action_id is `value`. */
export const DeclareBlocks = {
  title: 'declare_title',
  severity: 'declare_severity',
  description: 'declare_description',
  commander: 'declare_commander',
  services: 'declare_services',
  private: 'declare_private',
} as const;

export const FormBlocks = {
  status: 'form_status',
  message: 'form_message',
  severity: 'form_severity',
  role: 'form_role',
  user: 'form_user',
  action: 'form_action',
  params: 'form_params',
  reason: 'form_reason',
  target: 'form_target',
  owner: 'form_owner',
  due: 'form_due',
} as const;

/** Blocks of the approval message (the first block carries `Markers.approval`). */
export const ApprovalBlocks = {
  buttons: 'approval_buttons',
  status: 'approval_status',
} as const;

/**
 * Several buttons of one kind in one message (a runbook's steps, the card's runbook offers) need
 * distinct action_ids: `<base>:<n>`. Listeners match the base with this pattern.
 */
export const numbered = (base: string, n: number) => `${base}:${n}`;
export const anyNumbered = (base: string) => new RegExp(`^${base}(?::\\d+)?$`);

/** The element inside every input block uses this action_id, so state.values[block].value reads uniformly. */
export const INPUT = 'value';

/** Markers put in block_ids so the bot can find its own messages again after a crash. */
export const Markers = {
  card: (incidentId: string) => `card:${incidentId}`,
  announce: (incidentId: string) => `announce:${incidentId}`,
  brief: (incidentId: string) => `brief:${incidentId}`,
  approval: (approvalId: string) => `approval:${approvalId}`,
  summary: (incidentId: string, n: string) => `summary:${incidentId}:${n}`,
  postmortem: (incidentId: string) => `postmortem:${incidentId}`,
  /** One page of a storm incident's alert list (pages hold `STORM_PAGE_SIZE` alerts each). */
  stormList: (incidentId: string, page: number) => `storm-list:${incidentId}:${page}`,
  runbook: (runId: string) => `runbook:${runId}`,
  runbookOutput: (runId: string, index: number, attempt: number) => `runbook_out:${runId}:${index}:${attempt}`,
  runbookNote: (runId: string, note: string) => `runbook_note:${runId}:${note}`,
  reminder: (incidentId: string, dueMs: number) => `reminder:${incidentId}:${dueMs}`,
  page: (targetKey: string) => `page:${targetKey}`,
  pageAck: (targetKey: string) => `page-ack:${targetKey}`,
  suggestions: (incidentId: string) => `followup_suggestions:${incidentId}`,
  /** The weekly digest when it goes out as text (without files:write); with its chart, the file name marks it. */
  digest: (week: string) => `digest:${week}`,
  /** After resolve: "was each remediation needed?" for those proposed outside a runbook. */
  remediationQuestion: (incidentId: string) => `remediation_question:${incidentId}`,
} as const;

/** A Slack user, channel, bot or user-group id: the only thing the bot turns into a mention or a channel link. */
export const isSlackId = (id: string) => /^[UWBCGS][A-Z0-9]{2,}$/.test(id);

/** A Slack user id (`U…`, `W…` on Enterprise Grid): a person the bot may mention. A display name never is one. */
export const isUserId = (id: string) => /^[UW][A-Z0-9]{2,}$/.test(id);

/**
 * A page target as record text: the exact `<@U…>` the bot writes for a person picked in Slack as it
 * is, anything else (a configured target's name) escaped. Never given a name from a pager or a
 * backend: what such a name says cannot tell the bot it is a Slack id.
 */
export const personText = (who: string) => (/^<@[UW][A-Z0-9]{2,}>$/.test(who) ? who : escapeText(who));
