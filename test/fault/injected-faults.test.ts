/**
 * Fault tolerance under injected faults (issue 8): the real bot in HTTP mode, Rootly as the
 * backend, Claude for briefs, a webhook executor, while a seeded share of calls to Slack, Rootly,
 * Anthropic and the action endpoint fail (500s, 429 with Retry-After, dropped connections before
 * and after the work was done, a few hangs). After the burst the faults are cleared, the job queue
 * settles, and the end state is checked the way a person would see it: every incident, alert and
 * decision is complete exactly once or visibly reported as failed; nothing is lost or doubled.
 *
 * Replay a run with FAULT_SEED=<seed printed below>. The seed fixes each fake's sequence of fault
 * decisions; which call meets which decision still depends on timing (concurrent flows, job backoff
 * jitter), so a replay reproduces the fault mix, not always the same victim. Failures print the
 * lost-answer evidence (which post, create or alert record lost its answer) next to the problems.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENERAL_CHANNEL_ID, INCIDENTS_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import { startSlackEmulator, type SlackEmulator } from '../../src/emulator/slack/index.js';
import { DeclareBlocks, INPUT, Actions } from '../../src/slack/ids.js';
import { signGeneric } from '../../src/webhooks/verify.js';
import type { Incident } from '../../src/domain/incident.js';
import { startFakeRootly, type FakeRootly } from '../fakes/rootly/fake.js';
import { startFakeAnthropic, type FakeAnthropic } from '../fakes/anthropic/server.js';
import { BOT_TOKEN, startBot, type Bot } from '../e2e/harness.js';
import { ALICE, BOB, CAROL, blocksText, messagesWithMarker, openView } from '../e2e/helpers.js';
import { pickSeed, seededRandom, startFaultyReceiver, type FaultyReceiver } from './fault-kit.js';

const DAVE = 'U0DAVE001';
const ERIN = 'U0ERIN001';
const ALERT_SECRET = 'fault-run-generic-alert-secret';
const SECRET_ENV = 'FB_FAULT_WEBHOOK_SECRET';
const WEBHOOK_SECRET = 'fault-run-webhook-signing-secret';
const ROOTLY_KEY = 'rootly-fault-key';
const ANTHROPIC_KEY = 'sk-ant-test';

/** The Slack methods the declare flow (and the approval message) use; views.open stays healthy. */
const SLACK_METHODS = [
  'conversations.create',
  'conversations.invite',
  'conversations.setTopic',
  'chat.postMessage',
  'chat.update',
  'pins.add',
  'bookmarks.add',
];
const MANY = 1_000_000;

const seed = pickSeed();
// One stream per fake, derived from the seed, so one fake's call count does not shift another's faults.
const rnd = (salt: number) => seededRandom((seed ^ Math.imul(salt, 0x9e3779b1)) >>> 0);
console.log(`injected-faults seed: ${seed} (replay with FAULT_SEED=${seed})`);

let emulator: SlackEmulator;
let rootly: FakeRootly;
let claude: FakeAnthropic;
let receiver: FaultyReceiver;
let bot: Bot;
let claudeFaulty = true;
const prevSecret = process.env[SECRET_ENV];

before(async () => {
  emulator = await startSlackEmulator({ botToken: BOT_TOKEN, rateLimits: 'enforce', random: rnd(1) });
  rootly = await startFakeRootly({ apiKey: ROOTLY_KEY });
  const claudeRandom = rnd(2);
  claude = await startFakeAnthropic({
    apiKey: ANTHROPIC_KEY,
    // A share of Claude calls are refused as the real API does when busy; the SDK and the
    // summarizer's fallback must absorb them.
    respond: () => {
      if (!claudeFaulty) return undefined;
      const r = claudeRandom();
      if (r < 0.12) return { error: { status: 529, type: 'overloaded_error', message: 'Overloaded', retryAfter: 0 } };
      if (r < 0.22) return { error: { status: 429, type: 'rate_limit_error', message: 'Rate limited', retryAfter: 0 } };
      if (r < 0.28) return { error: { status: 500, type: 'api_error', message: 'Internal error' } };
      return undefined;
    },
  });
  claude.inject({ drop: true, times: 2 });
  receiver = await startFaultyReceiver(WEBHOOK_SECRET, rnd(3));

  const dir = mkdtempSync(join(tmpdir(), 'fb-faults-'));
  const cfg = join(dir, 'firebreak.yml');
  writeFileSync(
    cfg,
    [
      'actions:',
      '  - id: scale_service',
      '    title: Scale a service',
      '    params: { service: { type: string, required: true }, replicas: { type: string, required: true } }',
      '    requires_approval: true',
      '    policy: { roles: [commander] }',
      `    executor: { type: webhook, url: '${receiver.url}', secret_env: ${SECRET_ENV}, retries: 3, timeout_ms: 2000 }`,
      // Short Claude timeout and alert batching keep the run bounded; the defaults (60 s, 30 s) do not change the semantics.
      'claude: { timeout_ms: 5000, max_retries: 2 }',
      'alerts: { batch_seconds: 1 }',
    ].join('\n'),
  );
  // The executor reads the secret from the process environment at execution time.
  process.env[SECRET_ENV] = WEBHOOK_SECRET;
  bot = await startBot({
    emulator,
    env: {
      INCIDENT_BACKEND: 'rootly',
      ROOTLY_API_KEY: ROOTLY_KEY,
      ROOTLY_API_URL: rootly.url,
      ANTHROPIC_API_KEY: ANTHROPIC_KEY,
      ANTHROPIC_BASE_URL: claude.url,
      ALERT_WEBHOOK_SECRET: ALERT_SECRET,
      FIREBREAK_CONFIG: cfg,
      [SECRET_ENV]: WEBHOOK_SECRET,
      LOG_LEVEL: 'warn',
    },
    // Production Slack retry behaviour: the faults are meant to be absorbed, not surfaced at once.
    build: { slackRetries: 4 },
  });
});

after(async () => {
  await bot?.close();
  await emulator?.close();
  await rootly?.close();
  await claude?.close();
  await receiver?.close();
  if (prevSecret === undefined) delete process.env[SECRET_ENV];
  else process.env[SECRET_ENV] = prevSecret;
});

function injectFaults() {
  for (const m of SLACK_METHODS) {
    emulator.inject(m, { status: 500, probability: 0.08, times: MANY });
    emulator.inject(m, { status: 429, error: 'ratelimited', probability: 0.07, times: MANY });
    emulator.inject(m, { drop: true, probability: 0.05, times: MANY });
    // The work is done, the answer lost: the nastiest case for "exactly once".
    emulator.inject(m, { drop: true, after: true, probability: 0.05, times: MANY });
  }
  // A few hangs: the Web API client's 15 s timeout must end them and the call be retried.
  emulator.inject('pins.add', { hang: true, probability: 0.3, times: 1 });
  emulator.inject('conversations.setTopic', { hang: true, probability: 0.3, times: 1 });
  rootly.inject('*', { status: 500, probability: 0.1 });
  rootly.inject('*', { status: 429, headers: { 'retry-after': '1' }, probability: 0.08 });
  // Shared-fake drops run the handler first: a create that happened but whose answer was lost.
  rootly.inject('*', { drop: true, probability: 0.08 });
}

function clearFaults() {
  emulator.clearFaults();
  rootly.clearFaults();
  claudeFaulty = false;
  claude.reset();
}

async function postAlert(alert: Record<string, unknown>): Promise<{ status: number; ids: string[] }> {
  const body = JSON.stringify(alert);
  const ts = Math.floor(Date.now() / 1000);
  const res = await fetch(`${bot.url}/webhooks/alerts/generic`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-firebreak-timestamp': String(ts), 'x-firebreak-signature': signGeneric(ALERT_SECRET, ts, body) },
    body,
  });
  const json = (await res.json().catch(() => ({}))) as { alerts?: string[] };
  return { status: res.status, ids: json.alerts ?? [] };
}

const byTitle = async (title: string) => (await bot.fb.deps.store.listOpenIncidents()).find((i) => i.title === title);

interface Declared {
  title: string;
  user: string;
  how: 'inline' | 'modal';
}

interface Proposed {
  approvalId: string | null;
  ts: string | null;
  params: string;
}

test('under a seeded burst of faults every incident, alert and approval ends complete exactly once or visibly failed', { timeout: 110_000 }, async (t) => {
  const started = Date.now();
  injectFaults();

  // -- the burst: declares (inline and modal), alerts and approvals, all while calls fail --------
  const inline: Declared[] = ['Payment gateway timeouts', 'Login page blank', 'Queue consumer stalled', 'CDN purge failing'].map((x) => ({
    title: x,
    user: ALICE,
    how: 'inline',
  }));
  const modal: Declared[] = [
    { title: 'Search results stale', user: BOB, how: 'modal' },
    { title: 'Webhooks delivered late', user: CAROL, how: 'modal' },
    { title: 'Image uploads rejected', user: DAVE, how: 'modal' },
    { title: 'Invoice PDFs missing', user: ERIN, how: 'modal' },
  ];
  const declareInline = async (d: Declared) => {
    const r = await bot.driver.slash(`declare high ${d.title}`, { user: d.user, channel: GENERAL_CHANNEL_ID });
    assert.equal(r.status, 200, `inline declare of "${d.title}" acked`);
  };
  const declareModal = async (d: Declared) => {
    const r = await bot.driver.slash('', { user: d.user, channel: GENERAL_CHANNEL_ID });
    assert.equal(r.status, 200);
    const view = await bot.waitFor(() => openView(emulator, d.user, 'declare_modal'), 10_000, `declare modal for ${d.user}`);
    const sub = await bot.driver.submitView(
      view.id,
      {
        [DeclareBlocks.title]: { [INPUT]: d.title },
        [DeclareBlocks.severity]: { [INPUT]: 'high' },
        [DeclareBlocks.commander]: { [INPUT]: d.user },
        [DeclareBlocks.private]: { [INPUT]: [] },
      },
      { user: d.user },
    );
    assert.equal(sub.status, 200, `modal declare of "${d.title}" acked`);
  };

  // Three fingerprints: two severe enough for a channel, one low (announcement only).
  const alertPlan = [
    { title: 'Card payments failing', service: 'payments', severity: 'critical', n: 5 },
    { title: 'Search latency over SLO', service: 'search', severity: 'high', n: 4 },
    { title: 'Nightly export slow', service: 'export', severity: 'low', n: 3 },
  ];
  const alertIds = new Map<string, string[]>();
  const sendAlerts = async () => {
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        alertPlan
          .filter((a) => round < a.n)
          .map(async (a) => {
            const r = await postAlert({ title: a.title, service: a.service, severity: a.severity, external_id: `${a.service}-${round}` });
            assert.equal(r.status, 202, `alert ${a.title} #${round} accepted`);
            alertIds.set(a.title, [...(alertIds.get(a.title) ?? []), ...r.ids]);
          }),
      );
      await new Promise((r) => setTimeout(r, 150));
    }
  };

  // Approvals: Dave proposes in the first inline incident's channel, Alice (its commander) approves.
  const proposals: Proposed[] = [];
  const proposeAndApprove = async () => {
    const inc = await bot.waitFor(
      async () => {
        const i = await byTitle(inline[0]!.title);
        return i?.channelId ? i : null;
      },
      30_000,
      'a channel for the approvals incident',
    );
    const channel = inc.channelId!;
    for (let k = 0; k < 4; k++) {
      const params = `service=svc${k} replicas=${k + 2}`;
      const r = await bot.driver.slash(`action scale_service ${params}`, { user: DAVE, channel });
      assert.equal(r.status, 200);
      const approval = await bot.waitFor(
        async () => (await bot.fb.deps.store.listApprovals({ incidentId: inc.id })).find((a) => (a.params as { service?: string }).service === `svc${k}`),
        10_000,
        `approval svc${k} recorded`,
      );
      // The message may take Slack retries to appear; a proposal whose message never appears is checked below.
      const msg = await bot
        .waitFor(() => messagesWithMarker(emulator, channel, `approval:${approval.id}`)[0], 20_000, `approval message svc${k}`)
        .catch(() => null);
      proposals.push({ approvalId: approval.id, ts: msg?.ts ?? null, params });
      if (msg) {
        const c = await bot.driver.click({ channel, ts: msg.ts }, Actions.approve, { user: ALICE });
        assert.equal(c.status, 200);
      }
    }
    return inc;
  };

  const [, , , approvalsIncident] = await Promise.all([
    Promise.all(inline.map(declareInline)),
    Promise.all(modal.map(declareModal)),
    sendAlerts(),
    proposeAndApprove(),
  ]);
  // Let in-flight work meet the faults for a moment longer, then heal everything.
  await new Promise((r) => setTimeout(r, 1500));
  const burstMs = Date.now() - started;
  clearFaults();
  const slackFaulted = emulator
    .calls()
    .filter((c) => !c.ok && ['dropped', 'dropped_after', 'hang', 'fatal_error', 'ratelimited'].includes(c.error ?? '')).length;
  // The action endpoint stays flaky until the approved actions have run: the executor's own
  // retries against it are what this part checks (bounded; a stuck one is reported below).
  await bot
    .waitFor(
      async () => {
        const all = await bot.fb.deps.store.listApprovals({ incidentId: approvalsIncident.id });
        return all.length > 0 && all.every((a) => a.status !== 'approved' && a.status !== 'executing');
      },
      30_000,
      'approved actions to run against the flaky endpoint',
    )
    .catch(() => undefined);
  receiver.setFaulty(false);
  const hangs = emulator.calls().filter((c) => c.error === 'hang').length;
  t.diagnostic(
    `seed ${seed}; burst ${burstMs} ms; Slack calls failed by injection or limits: ${slackFaulted} (hangs: ${hangs}); Rootly calls: ${rootly.calls().length}; receiver deliveries: ${[...receiver.keys.values()].reduce((n, r) => n + r.deliveries, 0)}`,
  );
  assert.ok(slackFaulted > 10, `the burst really hit Slack with faults (${slackFaulted})`);

  // -- settle: nothing running, nothing due in the queue ---------------------------------------
  const store = bot.fb.deps.store;
  const settledIn = Date.now();
  await bot.waitFor(
    async () => {
      await bot.fb.deps.jobs.idle();
      const queued = await store.countJobs({ state: 'queued' });
      // Expiry jobs of decided approvals sit queued until their (hour-long) expiry by design.
      const expiries =
        (await store.countJobs({ kind: 'approval.expire', state: 'queued' })) + (await store.countJobs({ kind: 'incident.reminder', state: 'queued' }));
      const running = await store.countJobs({ state: 'running' });
      return queued - expiries === 0 && running === 0;
    },
    70_000,
    'the job queue to settle after the faults were cleared',
  );
  const dead = await store.countJobs({ state: 'dead' });
  t.diagnostic(`settled ${Date.now() - settledIn} ms after clearing; dead jobs: ${dead}`);

  const open = await store.listOpenIncidents();
  const remote = rootly.incidents();
  const problems: string[] = [];
  const check = (ok: boolean, msg: string) => {
    if (!ok) problems.push(msg);
  };

  // -- one channel / card / pin / announcement / backend record per incident, or a visible failure --
  const flowCompleted = async (i: Incident) => (await store.listAudit({ incidentId: i.id })).some((a) => a.action === 'incident.flow_completed');
  const checkIncident = async (i: Incident, label: string, wantsChannel: boolean, declarer: string | null) => {
    const done = await flowCompleted(i);
    if (!done) {
      // Not complete: then the declarer must have been told it failed for good.
      const told = declarer !== null && emulator.state.ephemeralsFor(declarer).some((e) => /failed for good/.test(e.text));
      check(told, `${label}: neither completed nor reported as failed to the declarer`);
      return;
    }
    const records = remote.filter((r) => (r.labels as Record<string, unknown> | undefined)?.firebreak_id === i.id);
    check(records.length === 1, `${label}: ${records.length} Rootly incidents carry its firebreak_id (want 1)`);
    check(records[0]?.id === i.backendId, `${label}: backendId ${i.backendId} is not the Rootly record ${records[0]?.id}`);
    const ann = messagesWithMarker(emulator, INCIDENTS_CHANNEL_ID, `announce:${i.id}`);
    check(ann.length === 1, `${label}: ${ann.length} announcements (want 1)`);
    if (!wantsChannel) {
      check(!i.channelId, `${label}: a low-severity alert incident got a channel`);
      return;
    }
    check(!!i.channelId, `${label}: no channel`);
    if (!i.channelId) return;
    const named = emulator.state.snapshot().channels.filter((c) => c.name === i.channelName || c.name.startsWith(`${i.channelName}-`));
    check(named.length === 1, `${label}: ${named.length} Slack channels named ${i.channelName}* (${named.map((c) => c.name).join(', ')})`);
    const cards = messagesWithMarker(emulator, i.channelId, `card:${i.id}`);
    check(cards.length === 1, `${label}: ${cards.length} cards (want 1)`);
    const pins = emulator.state.pins(i.channelId);
    check(
      pins.length === 1 && pins[0]!.message.ts === cards[0]?.ts,
      `${label}: ${pins.length} pins, card pinned: ${pins.some((p) => p.message.ts === cards[0]?.ts)}`,
    );
    const bookmarks = emulator.state.bookmarks(i.channelId);
    check(bookmarks.length === 1 && bookmarks[0]!.link === records[0]?.url, `${label}: ${bookmarks.length} bookmarks (want 1, to the Rootly URL)`);
    check(records[0]?.slack_channel_id === i.channelId, `${label}: Rootly record not linked to the channel`);
    const briefs = messagesWithMarker(emulator, i.channelId, `brief:${i.id}`);
    check(briefs.length === 1, `${label}: ${briefs.length} briefs (want 1; Claude or the fallback)`);
  };

  const declared = [...inline, ...modal];
  for (const d of declared) {
    const matches = open.filter((i) => i.title === d.title);
    check(matches.length === 1, `${d.how} "${d.title}": ${matches.length} incidents (want exactly 1)`);
    if (matches[0]) await checkIncident(matches[0], `${d.how} "${d.title}"`, true, d.user);
  }

  // -- alerts: each joined or opened exactly one incident, one per fingerprint -----------------
  for (const a of alertPlan) {
    const title = `[GENERIC] ${a.title}`;
    const matches = open.filter((i) => i.title === title);
    check(matches.length === 1, `alert "${a.title}": ${matches.length} incidents (want 1 per fingerprint)`);
    const inc = matches[0];
    if (!inc) continue;
    const ids = alertIds.get(a.title) ?? [];
    check(ids.length === a.n, `alert "${a.title}": ${ids.length} ids accepted (want ${a.n})`);
    for (const id of ids) {
      const stored = await store.getAlert(id);
      check(
        stored?.state === 'processed' && stored.incidentId === inc.id,
        `alert ${id} (${a.title}): state ${stored?.state}, incident ${stored?.incidentId} (want processed → ${inc.id})`,
      );
    }
    check(inc.alertCount === a.n, `alert "${a.title}": incident counts ${inc.alertCount} alerts (want ${a.n}, each once)`);
    await checkIncident(inc, `alert "${a.title}"`, a.severity !== 'low', null);
    const backendAlerts = rootly
      .alerts()
      .filter(
        (x) =>
          x.attributes.summary === a.title &&
          (x.attributes.labels as { key: string; value: string }[] | undefined)?.some((l) => l.key === 'status' && l.value === 'firing'),
      );
    // Rootly alerts have no idempotency: after an attempt whose outcome was lost the bot does not
    // send again (at most once) and says so in its log; otherwise exactly one.
    const fp = ids[0] ? (await store.getAlert(ids[0]))?.fingerprint : undefined;
    const unknownLogged = !!fp && bot.logs.some((l) => l.includes('may or may not exist') && l.includes(fp));
    check(
      backendAlerts.length === 1 || (backendAlerts.length === 0 && unknownLogged),
      `alert "${a.title}": ${backendAlerts.length} firing alerts recorded in Rootly (want 1 per episode, or 0 with the unknown outcome logged)`,
    );
  }

  // Nothing else appeared: every Rootly incident belongs to one of ours.
  check(open.length === declared.length + alertPlan.length, `${open.length} open incidents (want ${declared.length + alertPlan.length})`);
  const ours = new Set(open.map((i) => i.id));
  const strays = remote.filter((r) => !ours.has(String((r.labels as Record<string, unknown> | undefined)?.firebreak_id)));
  check(strays.length === 0, `${strays.length} Rootly incidents belong to no Firebreak incident: ${strays.map((s) => s.title).join(', ')}`);

  // Every incident channel in Slack belongs to exactly one incident: a channel made by a call whose
  // answer was lost must be adopted, not left behind while the incident moves on to `-2`.
  const held = new Map(open.filter((i) => i.channelId).map((i) => [i.channelId!, i]));
  const orphans = emulator.state.snapshot().channels.filter((c) => c.name.startsWith('inc-') && !held.has(c.id));
  check(orphans.length === 0, `${orphans.length} incident channels belong to no incident: ${orphans.map((c) => c.name).join(', ')}`);

  // "Fired again" notes count each joining alert once: their counts add up to the alerts after the first.
  for (const a of alertPlan) {
    const inc = open.find((i) => i.title === `[GENERIC] ${a.title}`);
    if (!inc) continue;
    const where = inc.channelId ?? INCIDENTS_CHANNEL_ID;
    const notes = emulator.state
      .messages(where)
      .filter((m) => /^:repeat: Fired again/.test(m.text ?? '') && m.thread_ts === (inc.channelId ? inc.cardTs : inc.announceTs));
    // Notes carry the running total; the last one has every firing, and none claims more.
    const totals = notes.map((m) => Number(/: (\d+) alerts? in total/.exec(m.text ?? '')?.[1] ?? NaN));
    const last = totals.length ? Math.max(...totals) : 1;
    check(
      last === a.n && totals.every((t) => t <= a.n),
      `alert "${a.title}": "fired again" notes report totals ${totals.join(', ') || 'none'} (want the last to be ${a.n})`,
    );
  }

  // -- approvals: executed once, or shown as failed/unknown; never delivered again after a 2xx ---
  check(receiver.unkeyed === 0, `${receiver.unkeyed} executor requests without an Idempotency-Key`);
  for (const p of proposals) {
    const a = p.approvalId ? await store.getApproval(p.approvalId) : null;
    if (!a) {
      problems.push(`approval ${p.params}: not recorded`);
      continue;
    }
    const label = `approval ${p.params} (${a.id.slice(0, 8)})`;
    const rec = receiver.keys.get(a.id);
    const msg = a.messageTs ? emulator.state.message(approvalsIncident.channelId!, a.messageTs) : undefined;
    if (!p.ts) {
      // Its message never showed during the burst, so nobody could approve it: it must be visible now.
      check(!!msg, `${label}: proposal message never posted`);
      continue;
    }
    check(['succeeded', 'failed', 'unknown'].includes(a.status), `${label}: ended ${a.status} (want succeeded/failed/unknown)`);
    check(!rec || rec.badSignature === 0, `${label}: ${rec?.badSignature} deliveries with a bad signature`);
    check(
      !rec || rec.afterSuccess === 0,
      `${label}: delivered ${rec?.afterSuccess} more times after a 2xx was answered (doubled execution on a receiver without idempotency)`,
    );
    const text = blocksText(msg?.blocks);
    if (a.status === 'succeeded') {
      check(rec?.executions === 1 && rec.answered2xx === 1, `${label}: succeeded but receiver saw executions=${rec?.executions}, 2xx=${rec?.answered2xx}`);
      check(/· ran\*/.test(text) && /\*Ran\*/.test(text), `${label}: succeeded but the message does not say it ran`);
    } else if (a.status === 'failed') {
      check(/· failed\*/.test(text) && /\*Failed\*/.test(text), `${label}: failed but the message does not say so`);
    } else if (a.status === 'unknown') {
      check(/Outcome unknown/.test(text), `${label}: unknown but the message does not say so`);
    }
    check(
      messagesWithMarker(emulator, approvalsIncident.channelId!, `approval:${a.id}`).length === 1,
      `${label}: ${messagesWithMarker(emulator, approvalsIncident.channelId!, `approval:${a.id}`).length} approval messages (want 1)`,
    );
  }
  check(proposals.filter((p) => p.ts).length >= 3, `only ${proposals.filter((p) => p.ts).length} of 4 proposals could be approved`);

  // Everything deduplicated by markers across Slack: no marker appears twice anywhere.
  const seen = new Map<string, number>();
  for (const ch of emulator.state.snapshot().channels) {
    for (const m of emulator.state.messages(ch.id)) {
      // A message carries its marker in one or more blocks (`card:<id>`, `card:<id>:actions`): count it once.
      const markers = new Set<string>();
      for (const b of (m.blocks ?? []) as { block_id?: string }[]) {
        const hit = /^(card|announce|brief|approval):([^:]+)/.exec(String(b.block_id ?? ''));
        if (hit) markers.add(`${ch.id}/${hit[1]}:${hit[2]}`);
      }
      for (const k of markers) seen.set(k, (seen.get(k) ?? 0) + 1);
    }
  }
  const doubled = [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${k}×${n}`);
  check(doubled.length === 0, `messages posted twice: ${doubled.join(', ')}`);

  // Evidence for whoever reads a failure: the lost-answer faults are the ones that can double work.
  const lostPosts = emulator
    .calls('chat.postMessage')
    .filter((c) => c.error === 'dropped_after')
    .map((c) =>
      String(
        ((c.args.blocks as { block_id?: string }[] | string | undefined) &&
          JSON.stringify(c.args.blocks).match(/"block_id":"((card|announce|brief|approval):[^":]+)/)?.[1]) ??
          c.args.text,
      ).slice(0, 60),
    );
  t.diagnostic(`chat.postMessage answers lost after the post was made: ${lostPosts.length} [${lostPosts.join('; ')}]`);
  const alertPosts = rootly
    .calls({ route: 'POST /v1/alerts' })
    .map((c) => `${(c.body as { data?: { attributes?: { summary?: string } } })?.data?.attributes?.summary}:${c.status ?? 'dropped'}`);
  t.diagnostic(`Rootly POST /v1/alerts: [${alertPosts.join('; ')}]`);
  const creates = emulator
    .calls('conversations.create')
    .filter((c) => c.error === 'dropped_after')
    .map((c) => String(c.args.name));
  t.diagnostic(`conversations.create answers lost after the channel was made: [${creates.join('; ')}]`);

  assert.deepEqual(problems, [], `seed ${seed}: ${problems.length} problems:\n${problems.join('\n')}`);
});
