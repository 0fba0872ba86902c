import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { postGenericAlert, writeConfigFile } from '../../bench/lib.js';
import type { Incident } from '../../src/domain/incident.js';
import type { RunbookRun } from '../../src/ports/runbook-store.js';
import { startBot, type Bot } from './harness.js';
import { startHttpTarget, type HttpTarget } from './helpers.js';

/**
 * An alert sender steering a runbook's templates: the alert's service and labels are filled into
 * the URL and the argv the team wrote. Whatever they contain, the request stays on the path the
 * team wrote (with its secret header), and a command gets no option the team did not write.
 */

function startTarget(): Promise<HttpTarget> {
  return startHttpTarget((_path, req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(req.url?.startsWith('/admin') ? JSON.stringify({ users: ['root'], api_keys: ['internal-key-123'] }) : JSON.stringify({ ok: true }));
  });
}

const ALERT_SECRET = 'e2e-runbook-inject-secret-0123456789';
const TOKEN = 'tok-e2e-inject-0123456789-secret';

describe('runbook templates fed by an alert sender (signed alerts, real bot)', () => {
  let bot: Bot;
  let target: HttpTarget;
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-inject-'));
  const argvFile = join(dir, 'argv.json');
  const script = join(dir, 'record-argv.mjs');
  writeFileSync(script, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(argvFile)}, JSON.stringify(process.argv.slice(2)));\n`);

  before(async () => {
    target = await startTarget();
    const cfg = writeConfigFile({
      runbooks: {
        allow_commands: true,
        definitions: [
          {
            id: 'service-health',
            title: 'Service health',
            auto: true,
            applies_to: { sources: ['generic'], labels: { team: 'steer' }, min_severity: 'high' },
            steps: [
              {
                id: 'health',
                http: {
                  url: `${target.url}/v1/services/{{ incident.services[0] }}/health?region={{ alert.labels.region }}`,
                  headers: { Authorization: { env: 'E2E_INJECT_TOKEN' } },
                },
                continue_on_failure: true,
              },
              { id: 'encoded', http: { url: `${target.url}/v1/services/{{ incident.services[0] | url_encode }}/health` }, continue_on_failure: true },
            ],
          },
          {
            id: 'pods',
            title: 'Pods',
            auto: true,
            applies_to: { sources: ['generic'], labels: { team: 'argv' }, min_severity: 'high' },
            steps: [
              {
                id: 'pods',
                command: {
                  argv: [process.execPath, script, 'get', 'pods', '{{ incident.services[0] }}', '--namespace={{ alert.labels.ns }}'],
                  read_only: true,
                },
              },
            ],
          },
        ],
      },
    });
    bot = await startBot({ env: { FIREBREAK_CONFIG: cfg, E2E_INJECT_TOKEN: TOKEN, ALERT_WEBHOOK_SECRET: ALERT_SECRET } });
  });
  after(async () => {
    await bot?.close();
    await target?.close();
  });

  const runOf = async (title: string, runbookId: string): Promise<{ i: Incident; run: RunbookRun }> => {
    const i = await bot.waitFor(
      async () => (await bot.fb.deps.store.listOpenIncidents()).find((x) => x.title.includes(title) && x.channelId),
      8000,
      'alert incident',
    );
    const run = await bot.waitFor(
      async () => (await bot.fb.deps.store.listRunbookRuns({ incidentId: i.id })).find((r) => r.runbookId === runbookId),
      8000,
      'run',
    );
    return { i, run };
  };
  const finished = (run: RunbookRun) =>
    bot.waitFor(
      async () => {
        const r = await bot.fb.deps.store.getRunbookRun(run.id);
        return r && ['succeeded', 'failed'].includes(r.status) ? r : null;
      },
      8000,
      'run finished',
    );
  /** Posts a signed generic alert (accepted: 202) and waits for the run of `runbookId` it started to finish. */
  const alertRun = async (alert: { title: string; severity: string; service: string; details: Record<string, string> }, runbookId: string) => {
    assert.equal(await postGenericAlert(bot.url, ALERT_SECRET, alert), 202);
    const { run } = await runOf(alert.title, runbookId);
    return finished(run);
  };

  test('a service or label with ../, ? or # cannot move the request to another path of the host (with the secret header)', async () => {
    const run = await alertRun(
      { title: 'Steer the path', severity: 'critical', service: '../../admin/keys?x=', details: { team: 'steer', region: 'eu#/../../admin' } },
      'service-health',
    );
    assert.ok(target.calls.length > 0, 'the step did call the host');
    for (const c of target.calls) {
      assert.ok(c.path.startsWith('/v1/services/'), `stayed under the path the runbook wrote: ${c.path}`);
      assert.ok(!c.path.startsWith('/admin'), `no call to /admin: ${c.path}`);
    }
    const first = target.calls.find((c) => c.headers.authorization === TOKEN)!;
    assert.equal(
      first.path,
      '/v1/services/..%2F..%2Fadmin%2Fkeys%3Fx%3D/health?region=eu%23%2F..%2F..%2Fadmin',
      'the values arrive as one path segment and one query value',
    );
    const steps = await bot.fb.deps.store.listRunbookSteps(run.id);
    for (const s of steps) assert.doesNotMatch(s.output ?? '', /internal-key-123/);
  });

  test('a service that is exactly ".." is refused in a URL (the request would climb a level); nothing is sent', async () => {
    const before = target.calls.length;
    const run = await alertRun({ title: 'Dot dot service', severity: 'critical', service: '..', details: { team: 'steer', region: 'eu' } }, 'service-health');
    const steps = await bot.fb.deps.store.listRunbookSteps(run.id);
    assert.equal(steps[0]!.status, 'failed');
    assert.match(steps[0]!.error!, /`\.\.`.*URL/);
    assert.equal(steps[1]!.status, 'failed', 'url_encode does not let it through either');
    assert.equal(target.calls.length, before, 'no request was made');
  });

  test('a value that would become an option of the command (it starts with -) is refused; the command does not run', async () => {
    const run = await alertRun(
      { title: 'Option injection', severity: 'critical', service: '--raw=/api/v1/secrets', details: { team: 'argv', ns: 'prod' } },
      'pods',
    );
    const step = (await bot.fb.deps.store.getRunbookStep(run.id, 0))!;
    assert.equal(step.status, 'failed');
    assert.match(step.error!, /starts with "-"/);
    assert.equal(existsSync(argvFile), false, 'the command did not run');
  });

  test("the same runbook with plain values runs the command with the argv the team wrote (a flag value may start with -, it stays the flag's value)", async () => {
    const r = await alertRun({ title: 'Plain values', severity: 'critical', service: 'checkout', details: { team: 'argv', ns: '-weird' } }, 'pods');
    assert.equal(r.status, 'succeeded');
    assert.deepEqual(JSON.parse(readFileSync(argvFile, 'utf8')), ['get', 'pods', 'checkout', '--namespace=-weird']);
  });
});
