import { parsePeriodDays } from './insights.js';
import { parseSeverity, SEVERITY_INPUTS, type Severity } from './severity.js';
import { parseFollowup, type FollowupDraft } from './followup.js';

/**
 * The `/incident` grammar (README.md, "Using it"). Pure: text in, a typed command or a parse error out.
 *   (empty) | declare                 → modal
 *   declare <severity> <title>        → inline declare
 *   status | update <text> | sev <severity> | role <role> @user
 *   mitigate [message] | resolve [message] | summary | postmortem
 *   action <action_id> [key=value ...] | runbook [id] | list | audit | help
 *   action <action_id> [key=value ...] | list | audit | help
 *   stats [7d|30d|90d] [service=<name>] [severity=<sev>]
 *   page <target> [message] | oncall [service] | followup <text> [@owner] [due:YYYY-MM-DD] | followups
 */
export type Command =
  | { kind: 'declare_modal' }
  | { kind: 'declare'; severity: Severity; title: string }
  | { kind: 'status' }
  | { kind: 'update'; text: string }
  | { kind: 'sev'; severity: Severity }
  | { kind: 'role'; role: string; userId: string }
  | { kind: 'mitigate'; message: string }
  | { kind: 'resolve'; message: string }
  | { kind: 'summary' }
  | { kind: 'postmortem' }
  | { kind: 'action'; actionId: string; params: Record<string, string> }
  | { kind: 'runbook'; runbookId: string | null }
  | { kind: 'list' }
  | { kind: 'stats'; days: number; service: string | null; severity: Severity | null }
  | { kind: 'audit' }
  | { kind: 'help' }
  | { kind: 'page'; target: string; message: string }
  | { kind: 'oncall'; service: string | null }
  | { kind: 'followup'; draft: FollowupDraft }
  | { kind: 'followups' };

export type ParseResult = { ok: true; command: Command } | { ok: false; error: string };

const USER_MENTION = /^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$/;

/**
 * A reference Slack wrote with its name (`<@U…|bob>`, `<#C…|general>`, `<!subteam^S…|@oncall>`:
 * what a typed `@bob` becomes in a slash command's text) as its plain words (`@bob`, `#general`,
 * `@oncall`). Unnamed markup is left as it is.
 */
export function namedReferencesAsWords(text: string): string {
  return text.replace(
    /<(@|#|!subteam\^)[UWCGS][A-Z0-9]+\|([^<>|]+)>/g,
    (_m, kind: string, label: string) => `${kind === '#' ? '#' : '@'}${label.replace(/^@/, '')}`,
  );
}

/** Split on whitespace, keeping "double quoted" runs together (for key="a value"). */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  const re = /(\S*?"[^"]*"\S*|\S+)/g;
  for (const m of text.matchAll(re)) out.push(m[0]);
  return out;
}

export function parseCommand(text: string, roles: readonly string[]): ParseResult {
  const trimmed = text.trim();
  if (!trimmed) return { ok: true, command: { kind: 'declare_modal' } };
  const [verbRaw, ...rest] = trimmed.split(/\s+/);
  const verb = verbRaw!.toLowerCase();
  const tail = trimmed.slice(verbRaw!.length).trim();
  switch (verb) {
    case 'declare': {
      if (!rest.length) return { ok: true, command: { kind: 'declare_modal' } };
      const severity = parseSeverity(rest[0]);
      if (!severity) return { ok: false, error: `Unknown severity \`${rest[0]}\`. Use one of: ${SEVERITY_INPUTS}.` };
      // A title is words: `@bob` typed in the command arrives as `<@U…|bob>` (should_escape), and
      // the record (the card's header, the channel name, the backend's incident) keeps `@bob`.
      const title = namedReferencesAsWords(rest.slice(1).join(' ')).trim();
      if (!title) return { ok: false, error: 'A title is needed: `/incident declare <severity> <title>`.' };
      if (title.length > 200) return { ok: false, error: 'The title is longer than 200 characters.' };
      return { ok: true, command: { kind: 'declare', severity, title } };
    }
    case 'status':
      return { ok: true, command: { kind: 'status' } };
    case 'update':
      if (!tail) return { ok: false, error: 'Say what changed: `/incident update <text>`.' };
      return { ok: true, command: { kind: 'update', text: tail } };
    case 'sev':
    case 'severity': {
      const severity = parseSeverity(rest[0]);
      if (!severity) return { ok: false, error: `Unknown severity \`${rest[0] ?? ''}\`. Use one of: ${SEVERITY_INPUTS}.` };
      return { ok: true, command: { kind: 'sev', severity } };
    }
    case 'role': {
      const role = rest[0]?.toLowerCase();
      const mention = rest[1]?.match(USER_MENTION);
      if (!role || !roles.includes(role)) return { ok: false, error: `Unknown role \`${rest[0] ?? ''}\`. Roles: ${roles.join(', ')}.` };
      if (!mention) return { ok: false, error: 'Name the person: `/incident role <role> @user`.' };
      return { ok: true, command: { kind: 'role', role, userId: mention[1]! } };
    }
    case 'mitigate':
      return { ok: true, command: { kind: 'mitigate', message: tail } };
    case 'resolve':
      return { ok: true, command: { kind: 'resolve', message: tail } };
    case 'summary':
    case 'summarize':
      return { ok: true, command: { kind: 'summary' } };
    case 'postmortem':
      return { ok: true, command: { kind: 'postmortem' } };
    case 'action': {
      const actionId = rest[0];
      if (!actionId) return { ok: false, error: 'Name the action: `/incident action <action_id> key=value ...`.' };
      const params: Record<string, string> = {};
      for (const tok of tokenize(tail.slice(actionId.length))) {
        const eq = tok.indexOf('=');
        if (eq <= 0) return { ok: false, error: `Parameters are key=value pairs; \`${tok}\` is not.` };
        const key = tok.slice(0, eq);
        let value = tok.slice(eq + 1);
        if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
        if (key in params) return { ok: false, error: `Parameter \`${key}\` is given twice.` };
        params[key] = value;
      }
      return { ok: true, command: { kind: 'action', actionId, params } };
    }
    case 'runbook':
    case 'runbooks': {
      if (rest.length > 1) return { ok: false, error: 'Name one runbook: `/incident runbook <id>`, or `/incident runbook` to list them.' };
      const id = rest[0]?.toLowerCase() ?? null;
      if (id !== null && !/^[a-z][a-z0-9_-]{1,63}$/.test(id))
        return { ok: false, error: `\`${rest[0]}\` is not a runbook id. \`/incident runbook\` lists them.` };
      return { ok: true, command: { kind: 'runbook', runbookId: id } };
    }
    case 'list':
      return { ok: true, command: { kind: 'list' } };
    case 'stats':
      return parseStats(rest);
    case 'audit':
      return { ok: true, command: { kind: 'audit' } };
    case 'help':
      return { ok: true, command: { kind: 'help' } };
    case 'page': {
      const target = rest[0];
      if (!target) return { ok: false, error: 'Name who to page: `/incident page <target> [message]` (a team from firebreak.yml or @person).' };
      return { ok: true, command: { kind: 'page', target, message: tail.slice(target.length).trim() } };
    }
    case 'oncall':
      return { ok: true, command: { kind: 'oncall', service: rest[0]?.toLowerCase() ?? null } };
    case 'followup': {
      const f = parseFollowup(tail);
      return f.ok ? { ok: true, command: { kind: 'followup', draft: f.draft } } : { ok: false, error: f.error };
    }
    case 'followups':
      return { ok: true, command: { kind: 'followups' } };
    default:
      return { ok: false, error: `Unknown subcommand \`${verbRaw}\`. Try \`/incident help\`.` };
  }
}

function parseStats(args: string[]): ParseResult {
  let days = 30;
  let service: string | null = null;
  let severity: Severity | null = null;
  for (const tok of args) {
    const eq = tok.indexOf('=');
    if (eq < 0) {
      const d = parsePeriodDays(tok);
      if (d === null) return { ok: false, error: `\`${tok}\` is not a period. Use 7d, 30d or 90d (any number of days up to 365d).` };
      days = d;
      continue;
    }
    const key = tok.slice(0, eq).toLowerCase();
    const value = tok.slice(eq + 1).replace(/^"(.*)"$/, '$1');
    if (key === 'service' && value && value.length <= 100) service = value;
    else if (key === 'severity' || key === 'sev') {
      severity = parseSeverity(value);
      if (!severity) return { ok: false, error: `Unknown severity \`${value}\`. Use one of: ${SEVERITY_INPUTS}.` };
    } else return { ok: false, error: `\`${tok}\` is not understood. Use \`/incident stats [7d|30d|90d] [service=<name>] [severity=<sev>]\`.` };
  }
  return { ok: true, command: { kind: 'stats', days, service, severity } };
}

export const HELP_TEXT = [
  '*Firebreak* — incident response from Slack',
  '`/incident` — declare with a form',
  '`/incident declare <severity> <title>` — declare now (severity: critical, high, medium, low or sev1–sev4)',
  '`/incident status` — where the incident stands',
  '`/incident update <text>` — post an update to the channel and the timeline',
  '`/incident sev <severity>` — change severity',
  '`/incident role <role> @user` — assign a role (commander, communications, scribe)',
  '`/incident mitigate [message]` · `/incident resolve [message]`',
  '`/incident summary` — catch up on the channel · `/incident postmortem` — draft a post-mortem',
  '`/incident action <action_id> key=value ...` — propose a remediation (risky ones need approval)',
  '`/incident runbook` — runbooks that apply here · `/incident runbook <id>` — start one',
  "`/incident list` — open incidents · `/incident audit` — this incident's audit log",
  '`/incident stats [7d|30d|90d] [service=<name>] [severity=<sev>]` — MTTA, MTTR, false-positive remediations and post-mortems, with a chart',
  '`/incident page <target> [message]` — page a team or @person · `/incident oncall [service]` — who is on call',
  '`/incident followup <text> [@owner] [due:YYYY-MM-DD]` — add a follow-up · `/incident followups` — list them',
].join('\n');
