import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { INCIDENTS_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import { withdrawalOf } from '../../src/domain/records.js';
import { Actions } from '../../src/slack/ids.js';
import { startFakeIncidentIo, type FakeIncidentIo } from '../fakes/incidentio/fake.js';
import { SECRET, SECRET_ENV, startReceiver } from '../services/approvals-fixture.js';
import { startBot, type Bot } from './harness.js';
import { ALICE, approvalWith, blocksText, BOB, declare, declarePrivate, firebreakYml, messagesWithMarker, propose, rollbackAction } from './helpers.js';

const IIO_KEY = 'iio-key';
const IIO_WEBHOOK_SECRET = `whsec_${Buffer.from('incidentio-private-webhook-secret').toString('base64')}`;

/**
 * incident.io's webhooks about private incidents name only the incident (`{"id": ...}`): the bot
 * reads it with `GET /v2/incidents/{id}` and mirrors it as it does public ones, without telling the
 * (public) announcement channel what it is about. Real bot, Slack emulator, incident.io fake that
 * sends its webhooks as incident.io does (Svix-signed, private ones with the id only).
 */
describe('incident.io webhooks: private incidents (the webhook names only the id), and our own changes coming back', () => {
  let bot: Bot;
  let iio: FakeIncidentIo;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  before(async () => {
    receiver = await startReceiver(() => 200);
    iio = await startFakeIncidentIo({ apiKey: IIO_KEY });
    bot = await startBot({
      env: {
        FIREBREAK_CONFIG: firebreakYml(`actions:\n${rollbackAction(receiver.url)}`),
        [SECRET_ENV]: SECRET,
        INCIDENTIO_API_KEY: IIO_KEY,
        INCIDENTIO_API_URL: iio.url,
        INCIDENTIO_WEBHOOK_SECRET: IIO_WEBHOOK_SECRET,
      },
    });
    iio.subscribe(`${bot.url}/webhooks/incidentio`, IIO_WEBHOOK_SECRET);
  });
  after(async () => {
    await bot?.close();
    await iio?.close();
    await receiver?.close();
  });

  const announcementOf = (incidentId: string) => messagesWithMarker(bot.emulator, INCIDENTS_CHANNEL_ID, `announce:${incidentId}`);
  /** The incident once it has its incident.io record (with the link) and its card. */
  const linkedToRecord = (incidentId: string) =>
    bot.waitFor(
      async () => {
        const cur = await bot.fb.deps.store.getIncident(incidentId);
        return cur?.backendUrl && cur.cardTs ? cur : null;
      },
      8000,
      'the incident.io record and the card',
    );

  test('declared in Slack: the card and the announcement, posted before the incident.io record existed, are edited to link it, and the channel bookmarks it', async () => {
    const i = await declare(bot, 'high Ledger writes time out', ALICE);
    const linked = await linkedToRecord(i.id);
    const url = linked.backendUrl!;
    assert.equal(iio.incidents().find((x) => x.id === linked.backendId)?.name, 'Ledger writes time out');
    const card = () => bot.emulator.state.messages(linked.channelId!).find((m) => m.ts === linked.cardTs);
    await bot.waitFor(() => blocksText(card()?.blocks).includes(url), 5000, 'the card edited with the incident.io link');
    await bot.waitFor(() => blocksText(announcementOf(i.id)[0]?.blocks).includes(url), 5000, 'the announcement edited with the link');
    await bot.waitFor(() => bot.emulator.state.bookmarks(linked.channelId!).some((b) => b.link === url), 5000, 'the bookmark to the record');
    assert.equal(bot.emulator.state.bookmarks(linked.channelId!).length, 1, 'one bookmark');
  });

  test("made private in incident.io while its channel is public: the card's Summarize button answers only the one who pressed it, and posts nothing in the channel", async () => {
    const title = 'Payment tokens written to the access log';
    const i = await declare(bot, `high ${title}`, ALICE);
    const linked = await linkedToRecord(i.id);
    await bot.settled();
    // Made private in incident.io's UI; its webhook names only the id. The Slack channel stays public.
    assert.equal(await iio.changeInUi(linked.backendId!, { visibility: 'private' }), 202);
    await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(i.id))?.private === true, 8000, 'mirrored as private');
    await bot.waitFor(
      () => bot.emulator.state.messages(i.channelId!).some((m) => /now \*private\* in incident\.io, but this channel is \*public\*/.test(m.text ?? '')),
      5000,
      'the channel told to go private',
    );
    await bot.settled();
    const posts = bot.emulator.calls('chat.postMessage').length;
    const edits = bot.emulator.calls('chat.update').length;
    const seen = bot.emulator.state.messages(i.channelId!).length;

    const clicked = await bot.driver.click({ channel: i.channelId!, ts: linked.cardTs! }, Actions.cardSummarize, { user: BOB });
    assert.equal(clicked.status, 200);
    const answer = await bot.waitFor(
      () => bot.emulator.state.ephemeralsFor(BOB, i.channelId!).find((e) => /shown to you only/.test(e.text ?? '')),
      5000,
      'the summary, to Bob only',
    );
    assert.match(answer.text ?? '', new RegExp(title), 'the summary itself, for the one who asked');
    assert.match(answer.text ?? '', /this incident is private and this channel is public/);
    await bot.settled();
    assert.equal(bot.emulator.state.messages(i.channelId!).length, seen, 'nothing posted in the channel');
    const inChannel = (c: { args: Record<string, unknown> }) => c.args.channel === i.channelId;
    assert.deepEqual(bot.emulator.calls('chat.postMessage').slice(posts).filter(inChannel), [], 'no summary post');
    assert.deepEqual(bot.emulator.calls('chat.update').slice(edits).filter(inChannel), [], 'no summary streamed into a message');
  });

  test('declared private in Slack, closed in incident.io: mirrored as resolved, its pending approval withdrawn by incident.io, nothing of it in the announcement channel', async () => {
    const i = await declarePrivate(bot, 'Signing keys copied to a public bucket', BOB);
    assert.equal(i.private, true);
    const record = iio.incidents().find((x) => x.id === i.backendId)!;
    assert.equal(record.visibility, 'private');
    const p = await propose(bot, i.channelId!, 'rollback_deployment service=auth version=v9', BOB);

    // Closed in incident.io's UI: its webhook carries only the id.
    assert.equal(await iio.changeInUi(record.id, { status: 'Closed' }), 202);
    const resolved = await bot.waitFor(
      async () => {
        const cur = await bot.fb.deps.store.getIncident(i.id);
        return cur?.status === 'resolved' ? cur : null;
      },
      8000,
      'the incident resolved from incident.io',
    );
    assert.ok(resolved.resolvedAt);
    assert.ok(
      iio.calls({ route: 'GET /v2/incidents/{id}' }).some((c) => c.path.endsWith(record.id) && c.status === 200),
      'the bot read the incident',
    );
    const withdrawn = await approvalWith(bot, p.approvalId, 'denied');
    assert.deepEqual(withdrawalOf(withdrawn), { because: 'incident_closed', status: 'resolved', by: 'incident.io' });
    // Said in the (private) incident channel; the announcement shows the status, never the title.
    await bot.waitFor(
      () => bot.emulator.state.messages(i.channelId!).some((m) => /Updated in incident\.io: status → \*resolved\*/.test(m.text ?? '')),
      5000,
      'the note in the incident channel',
    );
    await bot.waitFor(() => /RESOLVED/.test(announcementOf(i.id)[0]?.text ?? ''), 5000, 'the announcement updated in place');
    const ann = announcementOf(i.id);
    assert.equal(ann.length, 1);
    assert.doesNotMatch(blocksText(ann[0]!.blocks) + ann[0]!.text, /signing keys|public bucket/i);
    const threaded = bot.emulator.state.messages(INCIDENTS_CHANNEL_ID).filter((m) => m.thread_ts === ann[0]!.ts && m.ts !== ann[0]!.ts);
    assert.deepEqual(threaded, [], 'nothing threaded under the announcement');
    assert.equal(receiver.received.length, 0, 'the rollback never ran');
  });

  test('our own changes come back from incident.io as webhooks and change nothing: severity and a mitigate made in Slack stand', async () => {
    const i = await declare(bot, 'high Search results empty for EU');
    const record = iio.incidents().find((x) => x.id === i.backendId)!;
    // The workspace has four severities: ours "high" is its second worst, named "Critical".
    assert.equal(iio.severities().find((s) => s.id === record.severity_id)?.name, 'Critical');
    const seen = iio.webhookDeliveries().length;
    await bot.driver.slash('mitigate cache warmed', { user: ALICE, channel: i.channelId! });
    await bot.waitFor(() => iio.statuses().find((s) => s.id === record.incident_status_id)?.name === 'Monitoring', 8000, 'mitigated in incident.io');
    await iio.webhooksSent();
    assert.ok(iio.webhookDeliveries().length > seen, 'incident.io told the bot of the change');
    await bot.settled();
    const after = (await bot.fb.deps.store.getIncident(i.id))!;
    assert.deepEqual({ status: after.status, severity: after.severity }, { status: 'mitigated', severity: 'high' });
    const notes = bot.emulator.state.messages(i.channelId!).filter((m) => /Updated in incident\.io/.test(m.text ?? ''));
    assert.deepEqual(
      notes.map((m) => m.text),
      [],
      'no note for our own change',
    );
    // A change someone makes in incident.io is mirrored, read the same way: its worst severity is our critical.
    assert.equal(await iio.changeInUi(record.id, { severity: 'Catastrophic' }), 202);
    await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(i.id))?.severity === 'critical', 8000, 'the severity from incident.io');
    assert.equal((await bot.fb.deps.store.getIncident(i.id))!.status, 'mitigated');
  });

  test('created private in incident.io: announced once without its details and with no channel of ours; closing it there resolves it', async () => {
    const channelsBefore = bot.emulator.state.channels.size;
    const { incident: record, status } = await iio.createInUi({
      name: 'Payroll export mailed to the wrong customer',
      summary: 'Salaries of 40 staff',
      visibility: 'private',
      severity: 'Catastrophic',
    });
    assert.equal(status, 202);
    const i = await bot.waitFor(
      async () => {
        const cur = await bot.fb.deps.store.findIncidentByBackendId('incidentio', record.id);
        return cur?.announceTs ? cur : null;
      },
      8000,
      'the adopted incident, announced',
    );
    assert.deepEqual(
      { private: i.private, origin: i.origin, severity: i.severity, channelId: i.channelId },
      {
        private: true,
        origin: 'incidentio',
        severity: 'critical',
        channelId: null,
      },
    );
    assert.equal(bot.emulator.state.channels.size, channelsBefore, 'no channel of ours');
    const ann = announcementOf(i.id);
    assert.equal(ann.length, 1);
    const shown = blocksText(ann[0]!.blocks) + ann[0]!.text;
    assert.match(shown, /private incident/);
    assert.doesNotMatch(shown, /payroll|salaries|wrong customer/i);

    assert.equal(await iio.changeInUi(record.id, { status: 'Closed' }), 202);
    await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(i.id))?.status === 'resolved', 8000, 'resolved from incident.io');
    await bot.waitFor(() => /RESOLVED/.test(announcementOf(i.id)[0]?.text ?? ''), 5000, 'the announcement updated in place');
    assert.equal(announcementOf(i.id).length, 1);
    assert.doesNotMatch(blocksText(announcementOf(i.id)[0]!.blocks), /payroll|salaries/i);
  });
});
