import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBot, type Bot } from './harness.js';
import { GENERAL_CHANNEL_ID, INCIDENTS_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import { startFakeRootly, type FakeRootly } from '../fakes/rootly/fake.js';
import { signRootly } from '../../src/webhooks/verify.js';
import { ALICE, blocksText, BOB, channelsNamed, declare, flowDone, messagesWithMarker } from './helpers.js';
import { Actions } from '../../src/slack/ids.js';
import { POSTMORTEM_WAIT, postPostmortem } from '../../src/services/summaries.js';

const WEBHOOK_SECRET = 'rootly-webhook-secret-for-tests';
let bot: Bot;
let rootly: FakeRootly;

before(async () => {
  rootly = await startFakeRootly({ apiKey: 'rootly-test-key' });
  // A rollback that runs as a Rootly workflow once approved.
  const dir = mkdtempSync(join(tmpdir(), 'fb-rootly-'));
  writeFileSync(
    join(dir, 'firebreak.yml'),
    [
      'actions:',
      '  - id: rollback_deployment',
      '    title: Roll back a deployment',
      '    requires_approval: true',
      '    params: { service: { type: string, required: true }, version: { type: string, required: true } }',
      '    executor: { type: rootly_workflow, workflow_id: wf-rollback-1 }',
    ].join('\n'),
  );
  bot = await startBot({
    env: { ROOTLY_API_KEY: 'rootly-test-key', ROOTLY_API_URL: rootly.url, ROOTLY_WEBHOOK_SECRET: WEBHOOK_SECRET, FIREBREAK_CONFIG: join(dir, 'firebreak.yml') },
  });
});
after(async () => {
  await bot.close();
  await rootly.close();
});

async function sendWebhook(type: string, data: Record<string, unknown>, opts: { eventId?: string; t?: number; secret?: string } = {}) {
  const body = JSON.stringify({ event: { id: opts.eventId ?? randomUUID(), type, issued_at: new Date().toISOString() }, data });
  const t = opts.t ?? Math.floor(Date.now() / 1000);
  return fetch(`${bot.url}/webhooks/rootly`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-rootly-signature': signRootly(opts.secret ?? WEBHOOK_SECRET, body, t) },
    body,
  });
}

test('declaring from Slack creates the Rootly incident with severity_id, writes the channel back and bookmarks it; readiness checks the key', async () => {
  const ready = (await (await fetch(`${bot.url}/readyz`)).json()) as { checks: Record<string, string> };
  assert.equal(ready.checks.backend, 'ok');
  const mine = await declare(bot, 'sev2 Orders stuck in pending');
  const remote = rootly.incidents().find((r) => r.id === mine.backendId)!;
  assert.ok(remote, 'created in Rootly');
  const high = rootly.severities().find((s) => s.severity === 'high')!;
  assert.equal(remote.severity_id, high.id);
  assert.equal(remote.slack_channel_id, mine.channelId);
  assert.equal(remote.slack_channel_name, mine.channelName);
  assert.equal(rootly.incidents().length, 1);
  const bookmarks = bot.emulator.state.bookmarks(mine.channelId!);
  assert.equal(bookmarks.length, 1);
  assert.equal(bookmarks[0]!.link, remote.url);

  // Its incident.created webhook comes back: recognised as ours, not announced twice.
  const r = await sendWebhook('incident.created', {
    id: remote.id,
    title: remote.title,
    status: 'started',
    severity: { slug: 'sev1', severity: 'high' },
    labels: remote.labels,
    url: remote.url,
  });
  assert.ok(r.status < 300, String(r.status));
  await bot.settled();
  assert.equal(messagesWithMarker(bot.emulator, INCIDENTS_CHANNEL_ID, `announce:${mine.id}`).length, 1);
  assert.equal((await bot.fb.deps.store.listOpenIncidents()).length, 1);

  // Lifecycle changes sync to Rootly.
  await bot.driver.slash('sev critical', { user: ALICE, channel: mine.channelId! });
  await bot.driver.slash(`role commander <@${BOB}>`, { user: ALICE, channel: mine.channelId! });
  await bot.driver.slash('update Draining the stuck queue', { user: ALICE, channel: mine.channelId! });
  await bot.driver.slash('resolve queue drained', { user: ALICE, channel: mine.channelId! });
  await bot.waitFor(() => rootly.incidents()[0]!.status === 'resolved', 8000, 'resolved in Rootly');
  await bot.waitFor(() => rootly.incidents()[0]!.severity_id === rootly.severities().find((s) => s.severity === 'critical')!.id, 8000, 'severity synced');
  await bot.waitFor(() => rootly.incidents()[0]!.events.some((e) => e.event.includes('Draining the stuck queue')), 8000, 'timeline event');
  await bot.waitFor(() => rootly.incidents()[0]!.roles.length >= 1, 8000, 'role assigned');
  assert.equal(rootly.incidents()[0]!.resolution_message, 'queue drained');
});

test('post-mortem on Rootly: drafted once (a retry reuses it), on the timeline once, and with no retrospective the job stops after a bounded wait', async () => {
  const inc = rootly.incidents()[0]!;
  const mine = await bot.fb.deps.store.findIncidentByBackendId('rootly', inc.id);
  assert.ok(mine, 'the incident resolved by the first test');
  await bot.waitFor(() => inc.events.some((e) => e.event.startsWith('Post-mortem draft (Firebreak)')), 8000, 'draft on the Rootly timeline');
  await bot.fb.deps.jobs.idle();
  // Rootly's copy is read outside Slack: people by name, no Slack mention syntax. The channel's copy keeps its mentions.
  const saved = inc.events.find((e) => e.event.startsWith('Post-mortem draft (Firebreak)'))!.event;
  assert.doesNotMatch(saved, /<@|<#|<!/, saved);
  assert.match(saved, /@Alice Nakamura/);
  const posted = messagesWithMarker(bot.emulator, mine.channelId!, `postmortem:${mine.id}`)[0]!;
  assert.match(blocksText(posted.blocks), /<@U0ALICE01>/);
  let drafts = 0;
  const summarizer = bot.fb.deps.summarizer;
  const original = summarizer.postmortem.bind(summarizer);
  summarizer.postmortem = async (ctx) => (drafts++, original(ctx));
  try {
    // A retry of the job (and every bounded re-check) reuses the kept draft: no new Claude call.
    inc.post_mortem = null; // an organisation without a retrospective process
    assert.equal(await postPostmortem(bot.fb.deps, mine.id, null, { reuse: true, check: 1 }), 'not_ready');
    assert.equal(await postPostmortem(bot.fb.deps, mine.id, null, { reuse: true, check: POSTMORTEM_WAIT.checks }), 'not_ready');
    assert.equal(drafts, 0, 'the draft was generated once');
    assert.equal(inc.events.filter((e) => e.event.startsWith('Post-mortem draft (Firebreak)')).length, 1, 'on the timeline once');
    const gaveUp = messagesWithMarker(bot.emulator, mine.channelId!, `postmortem:${mine.id}:gave-up`);
    assert.equal(gaveUp.length, 1, 'the channel is told, once, and the wait stops');
  } finally {
    summarizer.postmortem = original;
  }
});

test("an incident created in Rootly's own UI is announced once and gets a channel when severe enough", async () => {
  // Someone declares in Rootly's own UI (through its API here).
  const crit = rootly.severities().find((s) => s.severity === 'critical')!;
  const created = await fetch(`${rootly.url}/v1/incidents`, {
    method: 'POST',
    headers: { authorization: 'Bearer rootly-test-key', 'content-type': 'application/vnd.api+json' },
    body: JSON.stringify({ data: { type: 'incidents', attributes: { title: 'DNS resolution failures in eu-west-1', severity_id: crit.id } } }),
  });
  assert.equal(created.status, 201);
  const remote = ((await created.json()) as { data: { id: string } }).data;
  const data = {
    id: remote.id,
    sequential_id: 512,
    title: 'DNS resolution failures in eu-west-1',
    kind: 'normal',
    private: false,
    summary: 'Internal resolvers timing out for ~20% of lookups',
    status: 'started',
    url: 'https://rootly.com/account/incidents/512-dns-resolution-failures-in-eu-west-1',
    severity: { id: 'sev-uuid-0', name: 'SEV0', slug: 'sev0', severity: 'critical' },
    started_at: new Date().toISOString(),
    created_at: new Date().toISOString(),
    updated_at: new Date().toISOString(),
    slack_channel_id: null,
    slack_channel_name: null,
  };
  const eventId = randomUUID();
  const stale = await sendWebhook('incident.created', data, { t: Math.floor(Date.now() / 1000) - 600 });
  assert.equal(stale.status, 401);
  const forged = await sendWebhook('incident.created', data, { secret: 'wrong' });
  assert.equal(forged.status, 401);
  const ok = await sendWebhook('incident.created', data, { eventId });
  assert.ok(ok.status < 300);
  const replay = await sendWebhook('incident.created', data, { eventId });
  assert.ok(replay.status < 300);
  const i = await bot.waitFor(
    async () => (await bot.fb.deps.store.listOpenIncidents()).find((x) => x.title === data.title && x.channelId),
    8000,
    'UI incident with channel',
  );
  await flowDone(bot, i.id);
  assert.equal(i.origin, 'rootly');
  assert.equal(i.severity, 'critical');
  assert.equal(messagesWithMarker(bot.emulator, INCIDENTS_CHANNEL_ID, `announce:${i.id}`).length, 1);
  assert.equal(channelsNamed(bot.emulator, 'inc-').filter((c) => c.name.includes('dns-resolution')).length, 1);
  assert.equal(rootly.incidents().filter((r) => r.title === data.title).length, 1, 'not re-created in Rootly');
  assert.equal(rootly.incidents().find((r) => r.id === remote.id)!.slack_channel_id, i.channelId, 'channel written back');

  // Resolved in Rootly's UI: the card and announcement follow.
  await sendWebhook('incident.resolved', { ...data, status: 'resolved', updated_at: new Date(Date.now() + 1000).toISOString() });
  await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(i.id))!.status === 'resolved', 8000, 'resolved from webhook');
});

test('an approved action with the rootly_workflow executor starts the workflow once, for the incident, with the parameters', async () => {
  const inc = await declare(bot, 'high Bad deploy of cart service');
  await bot.driver.slash('action rollback_deployment service=cart version=v17', { user: BOB, channel: inc.channelId! });
  const approval = await bot.waitFor(async () => (await bot.fb.deps.store.listApprovals({ incidentId: inc.id }))[0], 5000, 'proposal');
  const msg = await bot.waitFor(() => messagesWithMarker(bot.emulator, inc.channelId!, `approval:${approval.id}`)[0], 5000);
  await Promise.all([
    bot.driver.click({ channel: inc.channelId!, ts: msg.ts }, Actions.approve, { user: ALICE }),
    bot.driver.click({ channel: inc.channelId!, ts: msg.ts }, Actions.approve, { user: ALICE }),
  ]);
  await bot.waitFor(async () => (await bot.fb.deps.store.getApproval(approval.id))!.status === 'succeeded', 8000, 'executed');
  const runs = rootly.workflowRuns().filter((r) => r.workflow_id === 'wf-rollback-1');
  assert.equal(runs.length, 1, 'one workflow run');
  assert.equal(runs[0]!.incident_id, inc.backendId);
  assert.deepEqual((runs[0]!.context as { params: unknown }).params, { service: 'cart', version: 'v17' });
  await bot.waitFor(
    () => /Rootly workflow run/.test(blocksText(messagesWithMarker(bot.emulator, inc.channelId!, `approval:${approval.id}`)[0]!.blocks)),
    5000,
    'result shown',
  );
});

test('a refused Rootly key fails readiness with a message naming ROOTLY_API_KEY', async () => {
  const bad = await startBot({ env: { ROOTLY_API_KEY: 'not-the-key', ROOTLY_API_URL: rootly.url } });
  try {
    const r = await fetch(`${bad.url}/readyz`);
    const body = (await r.json()) as { ok: boolean; checks: Record<string, string> };
    assert.equal(r.status, 503);
    assert.equal(body.ok, false);
    assert.match(body.checks.backend!, /ROOTLY_API_KEY/);
  } finally {
    await bad.close();
  }
});

test('a field Rootly refuses (422) stops the record at once and tells the declarer which field; the Slack side still stands', async () => {
  rootly.inject('POST /v1/incidents', {
    status: 422,
    body: { errors: [{ title: 'Severity is not valid', status: '422', source: { pointer: '/data/attributes/severity_id' } }] },
    times: 1,
  });
  await bot.driver.slash('declare high Refused by Rootly', { user: BOB, channel: GENERAL_CHANNEL_ID });
  const told = await bot.waitFor(
    () => bot.emulator.state.ephemeralsFor(BOB, GENERAL_CHANNEL_ID).find((e) => /failed for good/.test(e.text)),
    8000,
    'the declarer told',
  );
  assert.match(told.text, /severity_id/);
  assert.match(told.text, /after 1 attempt\b/);
  const inc = (await bot.fb.deps.store.listOpenIncidents()).find((x) => x.title === 'Refused by Rootly')!;
  assert.ok(inc.channelId, 'the channel exists');
  assert.equal(inc.backendId, null);
  assert.equal(messagesWithMarker(bot.emulator, inc.channelId!, `card:${inc.id}`).length, 1, 'the card is there');
  assert.ok(
    bot.emulator.state.messages(inc.channelId!).some((m) => /failed for good/.test(m.text)),
    'the channel is told too',
  );
  assert.equal(rootly.incidents().filter((r) => r.title === 'Refused by Rootly').length, 0);
});
