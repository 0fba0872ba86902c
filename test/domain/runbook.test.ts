import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentStartRefusal, alertLabels, RunbookSchema, runbookApplies, stepWaitsFor, toRunbook, unmetConditions } from '../../src/domain/runbook.js';
import { agentStarter, capOutput, formatElapsed, mayOperate, nextMove, runStarter, type StepState } from '../../src/domain/runbook-run.js';
import { DEFAULT_ACTIONS } from '../../src/domain/actions.js';
import { renderArgvTemplate, renderTemplate, renderUrlTemplate, TemplateError, type TemplateVars } from '../../src/domain/runbook-template.js';

const steps = (...xs: [StepState['status'], boolean?][]): StepState[] => xs.map(([status, c], index) => ({ index, status, continueOnFailure: c ?? false }));

test('nextMove: in order; a failure stops unless allowed; denied always stops; unknown blocks; waits are waits', () => {
  assert.deepEqual(nextMove(steps(['pending'], ['pending'])), { kind: 'start', index: 0 });
  assert.deepEqual(nextMove(steps(['done'], ['skipped'], ['pending'])), { kind: 'start', index: 2 });
  assert.deepEqual(nextMove(steps(['done'], ['failed'], ['pending'])), { kind: 'stopped', index: 1 });
  assert.deepEqual(nextMove(steps(['failed', true], ['pending'])), { kind: 'start', index: 1 });
  assert.deepEqual(nextMove(steps(['denied', true], ['pending'])), { kind: 'stopped', index: 0 });
  assert.deepEqual(nextMove(steps(['done'], ['unknown'], ['pending'])), { kind: 'blocked', index: 1 });
  assert.deepEqual(nextMove(steps(['running'], ['pending'])), { kind: 'wait', index: 0, status: 'running' });
  assert.deepEqual(nextMove(steps(['waiting_approval'], ['pending'])), { kind: 'wait', index: 0, status: 'waiting' });
  assert.deepEqual(nextMove(steps(['done'], ['failed', true], ['done'])), { kind: 'finished', failures: 1 });
});

test('capOutput keeps at most n characters, says so, and redacts secret values', () => {
  assert.deepEqual(capOutput('abc', 10), { text: 'abc', truncated: false });
  const c = capOutput('x'.repeat(20), 5);
  assert.equal(c.truncated, true);
  assert.match(c.text, /^xxxxx\n… \(cut: 15 more characters not kept\)$/);
  assert.equal(capOutput('Authorization: Bearer s3cr3t-token', 100, ['s3cr3t-token']).text, 'Authorization: Bearer [redacted]');
  assert.equal(formatElapsed(850), '850 ms');
  assert.equal(formatElapsed(12_400), '12.4 s');
  assert.equal(formatElapsed(185_000), '3 min 5 s');
});

test('runbookApplies: every condition given must hold', () => {
  const rb = toRunbook(
    RunbookSchema.parse({
      id: 'edge',
      title: 'Edge',
      applies_to: { services: ['Edge'], sources: ['generic'], labels: { team: 'edge' }, min_severity: 'high' },
      steps: [{ check: 'x' }],
    }),
    'test',
  );
  const m = { severity: 'critical' as const, services: ['edge'], sources: ['alert', 'generic'], labels: { team: 'edge', region: 'eu' } };
  assert.equal(runbookApplies(rb, m), true);
  assert.equal(runbookApplies(rb, { ...m, severity: 'medium' }), false);
  assert.equal(runbookApplies(rb, { ...m, services: ['api'] }), false);
  assert.equal(runbookApplies(rb, { ...m, sources: ['slack'] }), false);
  assert.equal(runbookApplies(rb, { ...m, labels: { team: 'core' } }), false);
  // Each condition not met, in words (an agent's refusal names them).
  assert.deepEqual(unmetConditions(rb, m), []);
  assert.deepEqual(unmetConditions(rb, { severity: 'medium', services: [], sources: ['slack'], labels: { team: 'core' } }), [
    'severity: at least high, the incident is medium',
    "services: Edge; the incident's: none",
    "sources: generic; the incident's: slack",
    "label team=edge; the incident's alerts have team=core",
  ]);
  assert.deepEqual(unmetConditions(rb, { ...m, labels: {} }), ["label team=edge; the incident's alerts have no team"]);
  assert.deepEqual(alertLabels('alertmanager', { labels: { team: 'edge', n: 1 } }), { team: 'edge' });
  assert.deepEqual(alertLabels('datadog', { tags: 'env:prod,team:edge' }), { env: 'prod', team: 'edge' });
  assert.deepEqual(alertLabels('pagerduty', { labels: { team: 'x' } }), {});
});

test('templates are strict: an unknown variable or filter is an error naming it', () => {
  const vars = { incident: { services: ['api'], title: 'T' }, steps: { deploys: { json: { items: [{ version: 'v41' }] } } } } as unknown as TemplateVars;
  assert.equal(renderTemplate('{{ incident.services[0] }}/{{ steps.deploys.json.items[0].version }}', vars), 'api/v41');
  assert.equal(renderTemplate('no template', vars), 'no template');
  assert.throws(
    () => renderTemplate('{{ incident.nope }}', vars),
    (e: unknown) => e instanceof TemplateError && /undefined variable: incident\.nope/.test(e.message),
  );
  assert.throws(() => renderTemplate('{{ incident.title | shout }}', vars), /undefined filter: shout/);
});

test('templates never read files: include and render of a file on disk is refused', () => {
  // package.json exists in the working directory the tests (and the bot) run in.
  for (const t of ["{% include 'package.json' %}", "{% render 'package.json' %}"]) {
    assert.throws(
      () => renderTemplate(t, {} as TemplateVars),
      (e: unknown) => e instanceof TemplateError && !/firebreak/.test(e.message),
      t,
    );
  }
});

test('a value filled into a URL is one piece of data: encoded, never a path, a query or a climb; url_encode is not doubled', () => {
  const vars = { incident: { services: ['../admin?x=#y'], title: 'a b' }, steps: {} } as unknown as TemplateVars;
  assert.equal(
    renderUrlTemplate('https://h.example/v1/{{ incident.services[0] }}/x?t={{ incident.title }}', vars),
    'https://h.example/v1/..%2Fadmin%3Fx%3D%23y/x?t=a%20b',
  );
  assert.equal(renderUrlTemplate('https://h.example/q?t={{ incident.title | url_encode }}', vars), 'https://h.example/q?t=a+b');
  for (const climb of ['..', '.', '%2e%2E'])
    for (const t of ['https://h.example/v1/{{ incident.services[0] }}/x', 'https://h.example/v1/{{ incident.services[0] | url_encode }}/x'])
      assert.throws(
        () => renderUrlTemplate(t, { ...vars, incident: { ...vars.incident, services: [climb] } }),
        (e: unknown) => e instanceof TemplateError && /climb/.test(e.message),
        `${climb} in ${t}`,
      );
  for (const t of ["{% include 'package.json' %}", "{% render 'package.json' %}"]) assert.throws(() => renderUrlTemplate(t, vars), TemplateError, t);
});

test('an argv element filled in never becomes an option the team did not write; argv[0] is never a template', () => {
  const vars = (s: string) => ({ incident: { services: [s] }, steps: {} }) as unknown as TemplateVars;
  assert.throws(
    () => renderArgvTemplate('{{ incident.services[0] }}', vars('--raw=/api/v1/secrets')),
    (e: unknown) => e instanceof TemplateError && /starts with "-"/.test(e.message),
  );
  assert.throws(() => renderArgvTemplate('{{ incident.services[0] }}', vars('-o')), TemplateError);
  assert.equal(renderArgvTemplate('--namespace={{ incident.services[0] }}', vars('-x')), '--namespace=-x');
  assert.equal(renderArgvTemplate('{{ incident.services[0] }}', vars('api')), 'api');
  const parsed = RunbookSchema.safeParse({ id: 'rb', title: 'T', steps: [{ command: { argv: ['{{ incident.services[0] }}', 'get'] } }] });
  assert.equal(parsed.success, false);
  assert.match(JSON.stringify(parsed.error!.issues), /argv\[0\]\) must be written out/);
});

test('mayOperate: the runbook policy or the person who started it', () => {
  const policy = { roles: ['commander'], users: ['U0LEAD'], usergroups: ['S0SRE'] };
  const base = { roles: { commander: 'U0IC' }, groupMembers: new Set(['U0GRP']), startedBy: 'U0START' };
  for (const u of ['U0IC', 'U0LEAD', 'U0GRP', 'U0START']) assert.equal(mayOperate(policy, { ...base, userId: u }), true, u);
  assert.equal(mayOperate(policy, { ...base, userId: 'U0RANDOM' }), false);
});

test("a run an agent started gives no person the starter's rights, even when the agent is named like a Slack id", () => {
  const policy = { roles: ['commander'], users: [], usergroups: [] };
  const startedBy = agentStarter('U0START');
  assert.deepEqual(runStarter(startedBy), { kind: 'agent', name: 'U0START' });
  assert.deepEqual(runStarter('auto'), { kind: 'auto' });
  assert.deepEqual(runStarter('U0START'), { kind: 'user', userId: 'U0START' });
  const base = { roles: { commander: 'U0IC' }, groupMembers: new Set<string>(), startedBy };
  assert.equal(mayOperate(policy, { ...base, userId: 'U0START' }), false, 'the Slack user U0START did not start it');
  assert.equal(mayOperate(policy, { ...base, userId: startedBy }), false);
  assert.equal(mayOperate(policy, { ...base, userId: 'U0IC' }), true, 'the policy still applies');
});

test('what each step waits for, and which runbooks an agent may start', () => {
  const rb = toRunbook(
    RunbookSchema.parse({
      id: 'mixed',
      title: 'Mixed',
      steps: [
        { id: 'read', http: { url: 'https://metrics.example.com/q' } },
        { id: 'query', http: { method: 'POST', url: 'https://metrics.example.com/q', read_only: true } },
        { id: 'logs', action: { id: 'read_logs', params: { service: 'api' } } },
        { id: 'rollback', action: { id: 'rollback_deployment', params: { service: 'api', version: 'v1' } } },
        { id: 'ask', check: 'Tell support' },
        { id: 'why', diagnose: true },
        { id: 'pods', command: { argv: ['kubectl', 'get', 'pods'], read_only: true } },
      ],
    }),
    'test',
  );
  assert.deepEqual(
    rb.steps.map((s) => stepWaitsFor(s, DEFAULT_ACTIONS)),
    ['nothing', 'nothing', 'nothing', 'approval', 'person', 'nothing', 'nothing'],
  );
  assert.equal(stepWaitsFor(rb.steps[2]!, []), 'approval', 'an action it cannot find counts as risky');
  assert.equal(agentStartRefusal(rb), null, 'every command is declared read-only');
  const restart = toRunbook(
    RunbookSchema.parse({ id: 'restart', title: 'Restart', steps: [{ id: 'restart', command: { argv: ['kubectl', 'rollout', 'restart', 'deploy/api'] } }] }),
    'test',
  );
  assert.match(agentStartRefusal(restart)!, /command step not declared read_only \(restart\), so only a person may start it/);
});
