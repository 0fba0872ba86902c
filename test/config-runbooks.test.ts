import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError, loadConfig } from '../src/config.js';

/** Load a firebreak.yml with these runbooks (and optional files in a runbook folder). */
function load(runbooks: Record<string, unknown>, opts: { env?: Record<string, string>; files?: Record<string, string> } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'fb-rb-'));
  if (opts.files) {
    mkdirSync(join(dir, 'runbooks'));
    for (const [name, text] of Object.entries(opts.files)) writeFileSync(join(dir, 'runbooks', name), text);
  }
  writeFileSync(join(dir, 'firebreak.yml'), stringify({ runbooks }));
  return loadConfig({ ...opts.env }, dir);
}
function problems(runbooks: Record<string, unknown>, opts: Parameters<typeof load>[1] = {}): string[] {
  try {
    load(runbooks, opts);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
}

const ok = { id: 'triage', title: 'Triage', steps: [{ id: 'errors', http: { url: 'https://grafana.example.com/api?q={{ incident.services[0] }}' } }] };

test('a valid runbook loads with its defaults (GET, 10 s timeout, manual start, commander policy)', () => {
  const c = load({ definitions: [ok] });
  assert.equal(c.runbooks.length, 1);
  const rb = c.runbooks[0]!;
  assert.equal(rb.auto, false);
  assert.deepEqual(rb.policy.roles, ['commander']);
  assert.equal(rb.steps[0]!.kind, 'http');
  const step = rb.steps[0]!;
  assert.ok(step.kind === 'http' && step.http.method === 'GET' && step.http.timeout_ms === 10_000);
  assert.equal(c.file.runbooks.allow_commands, false);
});

test('a bad runbook stops start-up with one line per problem, naming the runbook and the field', () => {
  const p = problems({
    definitions: [
      { id: 'Bad Id', title: 'x', steps: [{ http: { url: 'https://a.example.com' } }] },
      { id: 'two-kinds', title: 'Two kinds', steps: [{ check: 'look', http: { url: 'https://a.example.com' } }] },
      { id: 'no-steps', title: 'Empty', steps: [] },
      { id: 'post', title: 'Changes things', steps: [{ http: { method: 'POST', url: 'https://deploy.example.com/rollback' } }] },
      { id: 'templated-host', title: 'Host from a template', steps: [{ http: { url: 'https://{{ incident.title }}.example.com/' } }] },
      { id: 'typo', title: 'Bad template', steps: [{ http: { url: 'https://a.example.com/{{ incident.title | nope' } }] },
      { id: 'unknown-action', title: 'Unknown action', steps: [{ action: { id: 'reboot_world' } }] },
      { id: 'bad-param', title: 'Bad parameter', steps: [{ action: { id: 'rollback_deployment', params: { service: 'api', verison: 'v1' } } }] },
      { id: 'secret', title: 'Missing secret', steps: [{ http: { url: 'https://a.example.com', headers: { Authorization: { env: 'MISSING_TOKEN' } } } }] },
      { id: 'dup', title: 'A', steps: [{ check: 'a' }] },
      { id: 'dup', title: 'B', steps: [{ check: 'b' }] },
    ],
  });
  const has = (re: RegExp) =>
    assert.ok(
      p.some((l) => re.test(l)),
      `${re} in:\n${p.join('\n')}`,
    );
  has(/runbooks\.definitions\[0\] \(Bad Id\) id: lowercase letters/);
  has(/\(two-kinds\) steps\.0: has http and check; a step is exactly one of/);
  has(/\(no-steps\) steps: /);
  has(/\(post\) steps\.0\.http\.method: POST changes something: use an action step \(it goes through the approval gate\)/);
  has(/\(templated-host\) steps\.0\.http\.url: must start with a literal http/);
  has(/runbooks\.typo\.steps\[0\]\.http\.url: not a valid Liquid template/);
  has(/runbook unknown-action steps\[0\] \(step_1\): unknown action "reboot_world"/);
  has(/action rollback_deployment has no parameter "verison"/);
  has(/action rollback_deployment needs parameter "version"/);
  has(/^MISSING_TOKEN: required by runbook secret \(header Authorization of step step_1\)/);
  has(/runbook id "dup" is already used/);
  for (const l of p) assert.doesNotMatch(l, /\n/, 'one line each');
});

test('one runbook per file in runbooks.folder, relative to firebreak.yml; a bad file is named', () => {
  const c = load({ folder: 'runbooks' }, { files: { 'a.yml': stringify(ok), 'notes.txt': 'ignored' } });
  assert.deepEqual(
    c.runbooks.map((r) => r.id),
    ['triage'],
  );
  const p = problems({ folder: 'runbooks' }, { files: { 'bad.yaml': 'id: x\ntitle: [' } });
  assert.match(p[0]!, /runbooks\/bad\.yaml: not valid YAML/);
  assert.match(problems({ folder: 'nowhere' })[0]!, /runbooks\.folder: not a folder/);
});

test('header secrets are read from the variables named; command steps load but are disabled unless allowed', () => {
  const c = load(
    {
      definitions: [
        {
          ...ok,
          steps: [
            { http: { url: 'https://a.example.com', headers: { Authorization: { env: 'GRAFANA_TOKEN' } } } },
            { command: { argv: ['kubectl', 'get', 'pods'], env: ['KUBECONFIG'] } },
          ],
        },
      ],
    },
    { env: { GRAFANA_TOKEN: 'secret-value-123456', KUBECONFIG: '/etc/kube', PATH: '/usr/bin', OTHER: 'not passed' } },
  );
  assert.equal(c.runbookEnv.GRAFANA_TOKEN, 'secret-value-123456');
  assert.equal(c.runbookEnv.KUBECONFIG, '/etc/kube');
  assert.equal(c.runbookEnv.PATH, '/usr/bin');
  assert.equal(c.runbookEnv.OTHER, undefined);
  assert.match(c.warnings[0]!, /runbook triage step step_2 is a command step, but runbooks.allow_commands is false/);
  const allowed = load({ allow_commands: true, definitions: [{ ...ok, steps: [{ command: { argv: ['true'] } }] }] });
  assert.deepEqual(allowed.warnings, []);
});

test('an automatic runbook may only have commands declared read_only: nobody starts it, so nobody vouches for a command that changes things', () => {
  const p = problems({
    allow_commands: true,
    definitions: [{ ...ok, auto: true, steps: [{ id: 'restart', command: { argv: ['kubectl', 'rollout', 'restart', 'deploy/api'] } }] }],
  });
  assert.ok(
    p.some((l) => /runbook triage step restart: auto: true, but this command is not declared read_only/.test(l)),
    p.join('\n'),
  );
  assert.deepEqual(
    problems({ allow_commands: true, definitions: [{ ...ok, auto: true, steps: [{ command: { argv: ['kubectl', 'get', 'pods'], read_only: true } }] }] }),
    [],
  );
});
