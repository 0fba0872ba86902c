import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBot, BOT_TOKEN, type Bot } from './harness.js';
import { GENERAL_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import { ALICE, BOB, flowDone } from './helpers.js';
import { scheduleDigest } from '../../src/services/insights.js';
import { isoWeek } from '../../src/domain/insights.js';
import type { EmuMessage } from '../../src/emulator/slack/types.js';

let bot: Bot;
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

before(async () => {
  // The weekly digest is due today (hour 0 UTC has always passed), to #general.
  const dir = mkdtempSync(join(tmpdir(), 'fb-insights-'));
  const cfg = join(dir, 'firebreak.yml');
  writeFileSync(cfg, `insights:\n  digest:\n    channel: ${GENERAL_CHANNEL_ID}\n    day: ${WEEKDAYS[new Date().getUTCDay()]}\n    hour: 0\n`);
  bot = await startBot({ env: { FIREBREAK_CONFIG: cfg } });
  // Two incidents through Slack: one acknowledged by a second person and resolved, one left open.
  for (const text of ['declare high Checkout latency in EU', 'declare sev1 Payments API 500s']) {
    await bot.driver.slash(text, { user: ALICE, channel: GENERAL_CHANNEL_ID });
  }
  const open = await bot.waitFor(async () => {
    const l = await bot.fb.deps.store.listOpenIncidents();
    return l.length === 2 ? l : null;
  }, 8000);
  for (const i of open) await flowDone(bot, i.id);
  const first = (await bot.fb.deps.store.getIncident(open[0]!.id))!;
  await bot.driver.slash(`update Rolled back the CDN config`, { user: BOB, channel: first.channelId! });
  await bot.driver.slash('resolve fixed by rollback', { user: ALICE, channel: first.channelId! });
  await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(first.id))!.status === 'resolved', 5000);
  await bot.fb.deps.jobs.idle();
});
after(async () => bot.close());

const withFiles = (channel: string) => bot.emulator.state.messages(channel).filter((m) => (m.files?.length ?? 0) > 0);

async function download(m: EmuMessage): Promise<Buffer> {
  const res = await fetch(m.files![0]!.url_private, { headers: { authorization: `Bearer ${BOT_TOKEN}` } });
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

test('/incident stats 30d posts a PNG chart with the four figures, through files.getUploadURLExternal and files.completeUploadExternal', async () => {
  const before = withFiles(GENERAL_CHANNEL_ID).filter((m) => /Incident figures/.test(m.text)).length;
  const r = await bot.driver.slash('stats 30d', { user: ALICE, channel: GENERAL_CHANNEL_ID });
  assert.equal(r.status, 200);
  const msg = await bot.waitFor(() => withFiles(GENERAL_CHANNEL_ID).filter((m) => /Incident figures/.test(m.text))[before], 20_000, 'the stats chart');
  assert.equal(bot.emulator.calls('files.getUploadURLExternal').filter((c) => c.ok).length >= 1, true);
  assert.ok(bot.emulator.calls('files.completeUploadExternal').some((c) => c.ok && c.args.channel_id === GENERAL_CHANNEL_ID));
  // The figures, with the period and who asked.
  assert.match(msg.text, /last 30 days/);
  assert.match(msg.text, /\*Incidents\*: 2/);
  assert.match(msg.text, /\*MTTA\*: median/);
  assert.match(msg.text, /\*MTTR\*: median .* \(1\)/);
  assert.match(msg.text, /False-positive remediations\*: no executed in this period/);
  assert.match(msg.text, /Post-mortems completed/);
  assert.match(msg.text, /<@U0ALICE01>/);
  // A real PNG of sane size and dimensions.
  const f = msg.files![0]!;
  assert.equal(f.mimetype, 'image/png');
  const png = await download(msg);
  assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a');
  const [w, h] = [png.readUInt32BE(16), png.readUInt32BE(20)];
  assert.ok(w >= 600 && w <= 2400, `width ${w}`);
  assert.ok(h >= 400 && h <= 2400, `height ${h}`);
  assert.ok(png.length > 10_000 && png.length < 2_000_000, `size ${png.length} bytes`);
  assert.equal(f.size, png.length);
});

test('filters and bad input: service and severity narrow the figures; a bad period is answered privately', async () => {
  const bad = await bot.driver.slash('stats 12x', { user: ALICE, channel: GENERAL_CHANNEL_ID });
  assert.match(bad.text, /not a period/);
  const badSev = await bot.driver.slash('stats 7d severity=urgent', { user: ALICE, channel: GENERAL_CHANNEL_ID });
  assert.match(badSev.text, /Unknown severity/);
  await bot.driver.slash('stats 90d severity=sev1', { user: ALICE, channel: GENERAL_CHANNEL_ID });
  const msg = await bot.waitFor(() => withFiles(GENERAL_CHANNEL_ID).find((m) => /severity critical/.test(m.text)), 20_000, 'the filtered chart');
  assert.match(msg.text, /last 90 days · severity critical/);
  assert.match(msg.text, /\*Incidents\*: 1/);
});

test('where the bot is not a member, the figures come back privately with a hint instead of failing', async () => {
  const ch = bot.emulator.state.createChannel({ name: 'ops-review', creator: ALICE, members: [ALICE] });
  await bot.driver.slash('stats 7d', { user: ALICE, channel: ch.id });
  const eph = await bot.waitFor(
    () => bot.emulator.state.ephemeralsFor(ALICE, ch.id).find((e) => /Incident figures/.test(e.text)),
    20_000,
    'the private figures',
  );
  assert.match(eph.text, /Invite Firebreak/);
  assert.equal(withFiles(ch.id).length, 0);
});

test('the weekly digest is posted once for the ISO week, however often replicas schedule it', async () => {
  const digest = await bot.waitFor(() => withFiles(GENERAL_CHANNEL_ID).find((m) => /Weekly incident digest/.test(m.text)), 20_000, 'the digest');
  assert.match(digest.text, /\d{4}-W\d{2}/);
  for (let k = 0; k < 3; k++) await scheduleDigest(bot.fb.deps);
  await new Promise((r) => setTimeout(r, 200));
  await bot.fb.deps.jobs.idle();
  assert.equal(withFiles(GENERAL_CHANNEL_ID).filter((m) => /Weekly incident digest/.test(m.text)).length, 1);
});

test('the App Home shows the last 30 days under the open incidents', async () => {
  await bot.driver.appHomeOpened(BOB);
  const home = await bot.waitFor(() => bot.emulator.state.homeView(BOB), 5000, 'the home tab');
  const text = JSON.stringify(home);
  assert.match(text, /Open incidents/);
  assert.match(text, /Last 30 days/);
  assert.match(text, /MTTR/);
});

test('/metrics has resolved-incident durations as a histogram by severity', async () => {
  const text = await (await fetch(`${bot.url}/metrics`)).text();
  assert.match(text, /firebreak_incident_resolved_duration_seconds_bucket\{le="300",severity="high"\} 1/);
  assert.match(text, /firebreak_incident_resolved_duration_seconds_count\{severity="high"\} 1/);
});

test('without the files:write scope the figures still come back, with what the admin must change', async () => {
  const { startSlackEmulator, defaultBotScopes } = await import('../../src/emulator/slack/index.js');
  const emulator = await startSlackEmulator({ botToken: BOT_TOKEN, scopes: defaultBotScopes().filter((s) => s !== 'files:write') });
  const other = await startBot({ emulator });
  try {
    await other.driver.slash('stats 30d', { user: ALICE, channel: GENERAL_CHANNEL_ID });
    const eph = await other.waitFor(
      () => emulator.state.ephemeralsFor(ALICE, GENERAL_CHANNEL_ID).find((e) => /Incident figures/.test(e.text)),
      20_000,
      'the text figures',
    );
    assert.match(eph.text, /files:write/);
    assert.ok(emulator.calls('files.getUploadURLExternal').every((c) => c.error === 'missing_scope'));
  } finally {
    await other.close();
    await emulator.close();
  }
});

test('a digest posted as text (no files:write) whose answer Slack lost is found on the retry, not posted twice', async () => {
  const { startSlackEmulator, defaultBotScopes } = await import('../../src/emulator/slack/index.js');
  const emulator = await startSlackEmulator({ botToken: BOT_TOKEN, scopes: defaultBotScopes().filter((s) => s !== 'files:write') });
  // Slack posts the digest, then the connection drops before the bot hears back.
  emulator.inject('chat.postMessage', { drop: true, after: true });
  const dir = mkdtempSync(join(tmpdir(), 'fb-digest-lost-'));
  const cfg = join(dir, 'firebreak.yml');
  writeFileSync(cfg, `insights:\n  digest:\n    channel: ${GENERAL_CHANNEL_ID}\n    day: ${WEEKDAYS[new Date().getUTCDay()]}\n    hour: 0\n`);
  const other = await startBot({ emulator, env: { FIREBREAK_CONFIG: cfg } });
  try {
    const week = isoWeek(new Date());
    const posted = await other.waitFor(
      () => other.fb.deps.store.getStep<{ ts?: string; adopted?: boolean }>(`digest:${week}:${GENERAL_CHANNEL_ID}`, 'posted'),
      20_000,
      'the digest recorded',
    );
    assert.ok(
      emulator.calls('chat.postMessage').some((c) => c.error === 'dropped_after'),
      'the answer was lost',
    );
    const digests = emulator.state.messages(GENERAL_CHANNEL_ID).filter((m) => /Weekly incident digest/.test(m.text));
    assert.equal(digests.length, 1, 'one digest in the channel');
    assert.equal(posted.adopted, true, 'the retry found it in the channel');
    assert.equal(posted.ts, digests[0]!.ts);
    assert.match(digests[0]!.text, new RegExp(week));
  } finally {
    await other.close();
    await emulator.close();
  }
});
