import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBot, type Bot } from './harness.js';
import { GENERAL_CHANNEL_ID, INCIDENTS_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import type { Incident } from '../../src/domain/incident.js';
import { ALICE, blocksText, BOB, CAROL, declare, messagesWithMarker, openView, waitForIncident } from './helpers.js';
import { Actions, DeclareBlocks, FormBlocks, INPUT, Shortcuts, Views } from '../../src/slack/ids.js';
import { startFakePagerDuty, type FakePagerDuty } from '../fakes/pagerduty/fake.js';
import { startFakeRootly, type FakeRootly } from '../fakes/rootly/fake.js';
import { startFakeIncidentIo, type FakeIncidentIo } from '../fakes/incidentio/fake.js';
import { createRootlyOnCall } from '../../src/adapters/backend/rootly/oncall.js';
import { createIncidentIoOnCall } from '../../src/adapters/backend/incidentio/oncall.js';
import type { OnCall } from '../../src/ports/oncall.js';
import { escapeText } from '../../src/slack/mrkdwn.js';

const DAVE = 'U0DAVE001';
/**
 * People the paging source knows by a name spelled like Alice's Slack id (a PagerDuty agent or a
 * backend user calls themself what they like); their emails are no Slack account's.
 */
const NAMED_LIKE_ALICE = [
  { name: ALICE, email: 'mallory@example.com', iio: 'iu-mallory' },
  { name: `<@${ALICE}>`, email: 'trent@example.com', iio: 'iu-trent' },
] as const;
const START = Date.parse('2026-12-01T09:00:00Z');
const SHIFT = { startsAt: '2026-11-30T09:00:00Z', endsAt: '2026-12-07T09:00:00Z' };

/** A clock the test moves; the bot's jobs, reminders and store timestamps read it. */
function fakeClock() {
  let t = START;
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) };
}

function configFile(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'fb-followthrough-'));
  const path = join(dir, 'firebreak.yml');
  writeFileSync(path, lines.join('\n'));
  return path;
}

/** What differs per backend: how to start it, and where a page or a follow-up lands. */
interface BackendCase {
  name: string;
  /** `oncall`: the real adapter with a short client timeout (the timeout tests wait for it). */
  start(now: () => number): Promise<{ env: Record<string, string>; config: string[]; close(): Promise<void>; oncall?: OnCall }>;
  pages(target: 'payments' | 'db'): number;
  followups(): string[];
  /** The route that creates a follow-up in the backend (null: the store is the record). */
  followupRoute: string | null;
  /** Carol acknowledges the page in the paging source, as she would in its app. */
  acknowledge(externalId: string, botUrl: string): Promise<void>;
  /** Someone the source knows by `who.name` (and nothing Slack knows) acknowledges the page to `target`. */
  acknowledgeAs(target: 'payments' | 'db', externalId: string, botUrl: string, who: (typeof NAMED_LIKE_ALICE)[number]): Promise<void>;
  /** How Carol shows in the channel: a mention where the source names her Slack account or email. */
  acker: RegExp;
  /** How often the bot asked the source about a page (null: it cannot be asked). */
  statusChecks: (() => number) | null;
  /** Whether the source tells the bot of the acknowledgement (a webhook) instead of waiting to be asked. */
  pushes: boolean;
}

let pd: FakePagerDuty;
let rootly: FakeRootly;
let iio: FakeIncidentIo;
const PD_KEY_PAYMENTS = 'p'.repeat(32);
const PD_KEY_DB = 'd'.repeat(32);
/** The vendor clients' timeout in these tests (10 s in production): a stalled answer fails fast. */
const CLIENT_TIMEOUT_MS = 1500;
const PD_WEBHOOK_SECRET = 'pd-webhook-secret-0123456789';
const IIO_WEBHOOK_SECRET = `whsec_${Buffer.from('incidentio-webhook-secret-0123').toString('base64')}`;

const CASES: BackendCase[] = [
  {
    name: 'local (PagerDuty Events v2, firebreak.yml rotation)',
    async start() {
      pd = await startFakePagerDuty();
      return {
        env: { PAGERDUTY_EVENTS_URL: pd.url, PD_KEY_PAYMENTS, PD_KEY_DB, PAGERDUTY_WEBHOOK_SECRET: PD_WEBHOOK_SECRET },
        config: [
          '  targets:',
          '    - { name: payments, type: service, routing_key_env: PD_KEY_PAYMENTS }',
          '    - { name: db, type: service, routing_key_env: PD_KEY_DB }',
          '  services: { checkout: { schedule: primary } }',
          `  schedules: [{ id: primary, users: [${CAROL}, ${BOB}], shift_hours: 168, start: "${SHIFT.startsAt}" }]`,
        ],
        close: () => pd.close(),
      };
    },
    pages: (t) =>
      pd
        .alerts()
        .filter((a) => a.routingKey === (t === 'payments' ? PD_KEY_PAYMENTS : PD_KEY_DB))
        .reduce((n, a) => n + a.triggers, 0),
    followups: () => [],
    followupRoute: null,
    async acknowledge(dedupKey, botUrl) {
      pd.subscribe(`${botUrl}/webhooks/alerts/pagerduty`, PD_WEBHOOK_SECRET);
      assert.equal(await pd.acknowledge({ routingKey: PD_KEY_PAYMENTS, dedupKey, agent: { id: 'PCAROL1', name: 'Carol Jiménez' }, service: 'payments' }), 202);
    },
    async acknowledgeAs(target, dedupKey, botUrl, who) {
      pd.subscribe(`${botUrl}/webhooks/alerts/pagerduty`, PD_WEBHOOK_SECRET);
      const routingKey = target === 'payments' ? PD_KEY_PAYMENTS : PD_KEY_DB;
      assert.equal(await pd.acknowledge({ routingKey, dedupKey, agent: { id: `P${who.iio}`, name: who.name }, service: target }), 202);
    },
    acker: /Carol Jiménez/,
    statusChecks: null,
    pushes: true,
  },
  {
    name: 'Rootly (alerts with notification targets, schedule shifts, action items)',
    async start() {
      rootly = await startFakeRootly({
        apiKey: 'rootly-key',
        users: [
          { email: 'alice@example.com' },
          { email: 'bob@example.com' },
          { email: 'carol@example.com' },
          ...NAMED_LIKE_ALICE.map((u) => ({ email: u.email, name: u.name })),
        ],
        onCall: {
          targets: [
            { type: 'EscalationPolicy', id: 'ep-payments' },
            { type: 'Group', id: 'grp-db' },
          ],
          schedules: [{ id: 'sched-checkout', shifts: [{ email: 'carol@example.com', ...SHIFT }] }],
        },
      });
      return {
        env: { ROOTLY_API_KEY: 'rootly-key', ROOTLY_API_URL: rootly.url },
        config: [
          '  targets:',
          '    - { name: payments, type: escalation_policy, id: ep-payments }',
          '    - { name: db, type: group, id: grp-db }',
          '  services: { checkout: { schedule: sched-checkout } }',
        ],
        close: () => rootly.close(),
        oncall: createRootlyOnCall({ apiKey: 'rootly-key', baseUrl: rootly.url, timeoutMs: CLIENT_TIMEOUT_MS }),
      };
    },
    pages: (t) => rootly.alerts().filter((a) => a.attributes.notification_target_id === (t === 'payments' ? 'ep-payments' : 'grp-db')).length,
    followups: () => rootly.actionItems().map((a) => String(a.attributes.summary)),
    followupRoute: 'POST /v1/incidents/{incident_id}/action_items',
    acknowledge: async (alertId) => rootly.acknowledgeAlert(alertId, 'carol@example.com'),
    acknowledgeAs: async (_target, alertId, _botUrl, who) => rootly.acknowledgeAlert(alertId, who.email),
    acker: /<@U0CAROL01>/,
    statusChecks: () => rootly.calls({ route: 'GET /v1/alerts/{id}' }).length,
    pushes: false,
  },
  {
    name: 'incident.io (escalations, schedule entries, follow-ups)',
    async start(now) {
      iio = await startFakeIncidentIo({
        apiKey: 'iio-key',
        now, // its webhooks are stamped with the test's clock, which the bot checks them against
        onCall: {
          users: [
            { id: 'iu-carol', email: 'carol@example.com', name: 'Carol', slack_user_id: CAROL },
            { id: 'iu-bob', email: 'bob@example.com', name: 'Bob', slack_user_id: BOB },
            { id: 'iu-dave', email: 'dave@example.com', name: 'Dave', slack_user_id: DAVE },
            ...NAMED_LIKE_ALICE.map((u) => ({ id: u.iio, email: u.email, name: u.name, slack_user_id: null })),
          ],
          escalationPaths: ['ep-payments'],
          schedules: [{ id: 'sched-checkout', entries: [{ userId: 'iu-carol', startAt: SHIFT.startsAt, endAt: SHIFT.endsAt }] }],
        },
      });
      return {
        env: { INCIDENTIO_API_KEY: 'iio-key', INCIDENTIO_API_URL: iio.url, INCIDENTIO_WEBHOOK_SECRET: IIO_WEBHOOK_SECRET },
        config: [
          '  targets:',
          '    - { name: payments, type: escalation_path, id: ep-payments }',
          '    - { name: db, type: user, id: iu-dave }',
          '  services: { checkout: { schedule: sched-checkout } }',
        ],
        close: () => iio.close(),
        oncall: createIncidentIoOnCall({ apiKey: 'iio-key', baseUrl: iio.url, timeoutMs: CLIENT_TIMEOUT_MS }),
      };
    },
    pages: (t) =>
      iio.escalations().filter((e) => (t === 'payments' ? e.body.escalation_path_id === 'ep-payments' : e.body.user_ids?.includes('iu-dave'))).length,
    followups: () => iio.followUps().map((f) => f.body.title),
    followupRoute: 'POST /v2/follow_ups',
    async acknowledge(escalationId, botUrl) {
      // incident.io pushes the change (a Svix-signed webhook); the bot asks for the escalation at once.
      iio.subscribe(`${botUrl}/webhooks/incidentio`, IIO_WEBHOOK_SECRET);
      assert.equal(await iio.acknowledgeEscalation(escalationId, 'iu-carol'), 202);
    },
    async acknowledgeAs(_target, escalationId, botUrl, who) {
      iio.subscribe(`${botUrl}/webhooks/incidentio`, IIO_WEBHOOK_SECRET);
      assert.equal(await iio.acknowledgeEscalation(escalationId, who.iio), 202);
    },
    acker: /<@U0CAROL01>/,
    statusChecks: () => iio.calls({ route: 'GET /v2/escalations/{id}' }).length,
    pushes: true,
  },
];

for (const c of CASES) {
  describe(`on-call and follow-through: ${c.name}`, () => {
    let bot: Bot;
    let incident: Incident;
    let closeBackend: () => Promise<void>;
    const clock = fakeClock();
    const inChannel = (text: string, user = ALICE) => bot.driver.slash(text, { user, channel: incident.channelId! });
    const settle = async () => {
      await new Promise((r) => setTimeout(r, 120));
      await bot.fb.deps.jobs.idle();
    };
    /** Move the bot's clock (only when no job is mid-run: leases are on the same clock). */
    const advance = async (minutes: number) => {
      await settle();
      clock.advance(minutes * 60_000);
      bot.fb.deps.jobs.kick();
      await settle();
    };
    const nudges = () => messagesWithMarker(bot.emulator, incident.channelId!, `reminder:${incident.id}`);
    const card = () => messagesWithMarker(bot.emulator, incident.channelId!, `card:${incident.id}`)[0]!;

    before(async () => {
      const b = await c.start(() => clock.now().getTime());
      closeBackend = b.close;
      const cfg = configFile(['oncall:', ...b.config]);
      bot = await startBot({ env: { ...b.env, FIREBREAK_CONFIG: cfg }, build: { clock, ...(b.oncall ? { oncall: b.oncall } : {}) } });
      await bot.driver.slash('', { user: ALICE, channel: GENERAL_CHANNEL_ID });
      const modal = await bot.waitFor(() => openView(bot.emulator, ALICE, Views.declare), 3000, 'declare modal');
      await bot.driver.submitView(
        modal.id,
        {
          [DeclareBlocks.title]: { [INPUT]: 'Checkout failing for card payments' },
          [DeclareBlocks.severity]: { [INPUT]: 'high' },
          [DeclareBlocks.services]: { [INPUT]: 'checkout' },
        },
        { user: ALICE },
      );
      incident = await waitForIncident(bot, 'Checkout failing for card payments');
    });
    after(async () => {
      await bot.close();
      await closeBackend();
    });

    test("the on-call person of the incident's service is invited when the channel opens; /incident oncall names them", async () => {
      await bot.waitFor(() => bot.emulator.state.channel(incident.channelId!)!.members.includes(CAROL), 5000, 'on-call invite');
      await bot.waitFor(
        () => bot.emulator.state.messages(incident.channelId!).some((m) => /On call for checkout/.test(m.text) && m.text.includes(CAROL)),
        3000,
        'invite notice',
      );
      await bot.driver.slash('oncall checkout', { user: BOB, channel: GENERAL_CHANNEL_ID });
      const answer = await bot.waitFor(
        () => bot.emulator.state.ephemeralsFor(BOB, GENERAL_CHANNEL_ID).find((e) => /On call now/.test(e.text)),
        3000,
        'oncall answer',
      );
      assert.match(answer.text, new RegExp(`checkout\\*: <@${CAROL}>`));
      await bot.driver.slash('oncall billing', { user: BOB, channel: GENERAL_CHANNEL_ID });
      await bot.waitFor(
        () => bot.emulator.state.ephemeralsFor(BOB, GENERAL_CHANNEL_ID).some((e) => /`billing` is not mapped/.test(e.text)),
        3000,
        'unknown service answer',
      );
    });

    test('/incident page pages the target once; repeating it says it was already paged and sends nothing', async () => {
      await inChannel('page payments card auth failing <!channel>');
      await bot.waitFor(() => bot.emulator.state.messages(incident.channelId!).find((m) => /Paged \*payments\*/.test(m.text)), 5000, 'page notice');
      assert.equal(c.pages('payments'), 1);
      const notice = bot.emulator.state.messages(incident.channelId!).find((m) => /Paged \*payments\*/.test(m.text))!;
      assert.doesNotMatch(notice.text, /<!channel>/, 'the typed message is escaped');
      await inChannel('page payments again', BOB);
      await bot.waitFor(() => bot.emulator.state.ephemeralsFor(BOB, incident.channelId!).some((e) => /already paged/.test(e.text)), 3000, 'already paged');
      await settle();
      assert.equal(c.pages('payments'), 1, 'one page per incident and target');
      if (c.name.startsWith('local')) assert.equal(pd.alerts()[0]!.dedupKey, incident.id, 'dedup_key is the incident id');
      const bad = await inChannel('page nobody-knows');
      assert.equal(bad.status, 200);
      await bot.waitFor(
        () => bot.emulator.state.ephemeralsFor(ALICE, incident.channelId!).some((e) => /No paging target `nobody-knows`/.test(e.text)),
        3000,
        'unknown target',
      );
    });

    test("the card's Page button opens a modal; a double submission pages exactly once", async () => {
      await bot.driver.click({ channel: incident.channelId!, ts: card().ts }, Actions.cardPage, { user: BOB });
      const form = await bot.waitFor(() => openView(bot.emulator, BOB, Views.page), 3000, 'page modal');
      const values = { [FormBlocks.target]: { [INPUT]: 'db' }, [FormBlocks.message]: { [INPUT]: 'replica lag' } };
      await Promise.all([bot.driver.submitView(form.id, values, { user: BOB }), bot.driver.submitView(form.id, values, { user: BOB })]);
      await bot.waitFor(() => bot.emulator.state.messages(incident.channelId!).find((m) => /Paged \*db\*/.test(m.text)), 5000, 'db page notice');
      await settle();
      assert.equal(c.pages('db'), 1);
      assert.equal(bot.emulator.state.messages(incident.channelId!).filter((m) => /Paged \*db\*/.test(m.text)).length, 1);
      assert.equal((await bot.fb.deps.store.listPages(incident.id)).filter((p) => p.state === 'sent').length, 2);
    });

    test('/incident followup records it (owner, due date) in the backend; /incident followups lists it', async () => {
      await inChannel(`followup Add an alert on card-auth error rate <@${BOB}> due:2026-12-15`);
      const f = await bot.waitFor(async () => (await bot.fb.deps.store.listFollowups({ incidentId: incident.id }))[0], 3000, 'follow-up');
      assert.equal(f.ownerId, BOB);
      assert.equal(f.due, '2026-12-15');
      assert.equal(f.source, 'command');
      if (c.name.startsWith('local')) assert.equal(f.backendId, null);
      else await bot.waitFor(() => c.followups().includes('Add an alert on card-auth error rate'), 5000, 'backend follow-up');
      await inChannel('followups', CAROL);
      const list = await bot.waitFor(
        () => bot.emulator.state.ephemeralsFor(CAROL, incident.channelId!).find((e) => /Follow-ups of/.test(e.text)),
        3000,
        'list',
      );
      assert.match(list.text, /card-auth error rate — <@U0BOB0001> · due 2026-12-15/);
      const bad = await inChannel('followup Rotate keys due:2026-02-30');
      assert.match(bad.text, /not a date/);
      await bot.driver.appHomeOpened(BOB);
      const home = await bot.waitFor(() => bot.emulator.state.homeView(BOB), 3000, 'home');
      assert.match(blocksText(home.blocks), /Your open follow-ups/);
      assert.match(blocksText(home.blocks), /card-auth error rate/);
    });

    test('the Follow-up message shortcut turns a message into one follow-up, however often it is submitted', async () => {
      const { ts } = await bot.driver.userMessage(incident.channelId!, CAROL, 'We should add a circuit breaker on the card processor');
      await bot.driver.messageShortcut({ channel: incident.channelId!, ts }, Shortcuts.followup, { user: CAROL });
      const form = await bot.waitFor(() => openView(bot.emulator, CAROL, Views.followup), 3000, 'follow-up modal');
      assert.match(JSON.stringify(form.blocks), /circuit breaker/);
      const values = { [FormBlocks.owner]: { [INPUT]: CAROL } };
      await Promise.all([bot.driver.submitView(form.id, values, { user: CAROL }), bot.driver.submitView(form.id, values, { user: CAROL })]);
      await settle();
      const mine = (await bot.fb.deps.store.listFollowups({ incidentId: incident.id })).filter((f) => f.source === 'shortcut');
      assert.equal(mine.length, 1);
      assert.equal(mine[0]!.text, 'We should add a circuit breaker on the card processor');
      if (!c.name.startsWith('local')) await bot.waitFor(() => c.followups().filter((t) => /circuit breaker/.test(t)).length === 1, 5000, 'backend follow-up');
      // Outside an incident channel the shortcut says so instead of opening a form.
      const other = await bot.driver.userMessage(GENERAL_CHANNEL_ID, CAROL, 'lunch?');
      await bot.driver.messageShortcut({ channel: GENERAL_CHANNEL_ID, ts: other.ts }, Shortcuts.followup, { user: CAROL });
      await bot.waitFor(() => bot.emulator.state.ephemeralsFor(CAROL, GENERAL_CHANNEL_ID).some((e) => /incident channel/.test(e.text)), 3000, 'refusal');
    });

    test('update reminders (high: every 30 min): one nudge per interval, none after an update until the next interval, none after resolve', async () => {
      // The incident was declared at START; the tests above ran at START (the clock has not moved).
      await advance(29);
      assert.equal(nudges().length, 0, 'not before 30 minutes');
      await advance(2); // 31 min
      await bot.waitFor(() => nudges().length === 1, 3000, 'first nudge');
      assert.match(nudges()[0]!.text, new RegExp(`<@${ALICE}>, no update .* for 30 minutes`));
      await advance(10); // 41 min: still one
      assert.equal(nudges().length, 1);
      await inChannel('update card processor failover in progress');
      await bot.waitFor(() => bot.emulator.state.messages(incident.channelId!).some((m) => /failover in progress/.test(m.text)), 3000);
      // The update also goes to the announcement post, as its latest line.
      await bot.waitFor(
        () =>
          /Latest update.*failover in progress/.test(blocksText(messagesWithMarker(bot.emulator, INCIDENTS_CHANNEL_ID, `announce:${incident.id}`)[0]?.blocks)),
        3000,
        'announcement latest line',
      );
      await advance(25); // 25 min after the update: nothing
      assert.equal(nudges().length, 1, 'no nudge within 30 minutes of an update');
      await advance(6); // 31 min after the update
      await bot.waitFor(() => nudges().length === 2, 3000, 'second nudge');
      // Snooze from the message: nothing for the next hour.
      const last = nudges().at(-1)!;
      await bot.driver.click({ channel: incident.channelId!, ts: last.ts }, Actions.reminderSnoozeLong, { user: ALICE });
      await bot.waitFor(() => bot.emulator.state.ephemeralsFor(ALICE, incident.channelId!).some((e) => /snoozed for 60 minutes/.test(e.text)), 3000, 'snoozed');
      await advance(45);
      assert.equal(nudges().length, 2, 'snoozed');
      await advance(20);
      await bot.waitFor(() => nudges().length === 3, 3000, 'nudge after the snooze');
      await inChannel('resolve card processor replaced');
      await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(incident.id))!.status === 'resolved', 3000);
      await advance(120);
      assert.equal(nudges().length, 3, 'no nudge after resolve');
    });

    // After the reminders (it moves the clock); the first incident is resolved by then, so a second is paged.
    test("a paged person's acknowledgement is shown in the channel (who and when) and on the page message; the status checks stop", async () => {
      const second = await declare(bot, 'critical Payments API latency');
      const ch = second.channelId!;
      await bot.driver.slash('page payments', { user: ALICE, channel: ch });
      const notice = await bot.waitFor(() => bot.emulator.state.messages(ch).find((m) => /Paged \*payments\*/.test(m.text)), 5000, 'page notice');
      const page = (await bot.fb.deps.store.listPages(second.id)).find((p) => p.targetName === 'payments')!;
      assert.equal(page.state, 'sent');
      const acks = () => messagesWithMarker(bot.emulator, ch, `page-ack:${page.targetKey}`);
      if (c.statusChecks) {
        // Asked 30 s after the page, not acknowledged yet: nothing said; asked again later (backoff).
        const before = c.statusChecks();
        await advance(1);
        assert.equal(c.statusChecks(), before + 1, 'one check after 30 s');
        assert.equal(acks().length, 0);
      }
      await c.acknowledge(page.externalId!, bot.url);
      // Pushed: shown without waiting for the next check; asked: the next check (1 min later) sees it.
      if (!c.pushes) await advance(2);
      const ack = await bot.waitFor(() => acks()[0], 5000, 'acknowledgement in the channel');
      assert.match(ack.text, new RegExp(`${c.acker.source} acknowledged the page to \\*payments\\* at <!date\\^`));
      const stored = (await bot.fb.deps.store.getPage(second.id, page.targetKey))!;
      assert.equal(stored.state, 'acknowledged');
      assert.ok(stored.ackedAt);
      // The page message shows it too; the timeline and the audit log have it.
      await bot.waitFor(
        () => new RegExp(`acknowledged by ${c.acker.source}`).test(blocksText(bot.emulator.state.messages(ch).find((m) => m.ts === notice.ts)?.blocks)),
        3000,
        'page message updated',
      );
      assert.ok(
        (await bot.fb.deps.store.listTimeline(second.id)).some(
          (e) => e.kind === 'page' && new RegExp(`${c.acker.source} acknowledged the page to payments`).test(e.text),
        ),
      );
      assert.ok((await bot.fb.deps.store.listAudit({ incidentId: second.id })).some((e) => e.action === 'oncall.page_acknowledged'));
      // Nothing more is asked or said about it.
      const checks = c.statusChecks?.() ?? 0;
      await advance(60);
      assert.equal(c.statusChecks?.() ?? 0, checks, 'no check after the acknowledgement');
      assert.equal(acks().length, 1, 'said once');
    });

    test('an acknowledger the source names "U0ALICE01" or "<@U0ALICE01>" pings nobody and is not recorded as Alice', async () => {
      const third = await declare(bot, 'high Ledger writes stalled', BOB);
      const ch = third.channelId!;
      const from = bot.emulator.calls().length;
      const targets = ['payments', 'db'] as const;
      for (const t of targets) {
        await bot.driver.slash(`page ${t}`, { user: BOB, channel: ch });
        await bot.waitFor(() => bot.emulator.state.messages(ch).find((m) => m.text.includes(`Paged *${t}*`)), 5000, `${t} page notice`);
      }
      const pages = await bot.waitFor(
        async () => {
          const l = (await bot.fb.deps.store.listPages(third.id)).filter((p) => p.state === 'sent');
          return l.length === 2 ? l : null;
        },
        3000,
        'both pages sent',
      );
      for (const [n, t] of targets.entries()) await c.acknowledgeAs(t, pages.find((p) => p.targetName === t)!.externalId!, bot.url, NAMED_LIKE_ALICE[n]!);
      if (!c.pushes) await advance(2);
      for (const [n, t] of targets.entries()) {
        const who = NAMED_LIKE_ALICE[n]!;
        const page = pages.find((p) => p.targetName === t)!;
        const ack = await bot.waitFor(() => messagesWithMarker(bot.emulator, ch, `page-ack:${page.targetKey}`)[0], 5000, `${t} acknowledgement`);
        assert.ok(ack.text.startsWith(`:white_check_mark: ${escapeText(who.name)} acknowledged the page to *${t}*`), ack.text);
        const stored = (await bot.fb.deps.store.getPage(third.id, page.targetKey))!;
        assert.equal(stored.ackedByUser, null, 'a name is not a resolved Slack id');
        assert.equal(stored.ackedByName, who.name);
      }
      await settle();
      // Nothing the bot said about the acknowledgements (channel, page messages) mentions Alice.
      const said = bot.emulator
        .calls()
        .slice(from)
        .filter((x) => x.method.startsWith('chat.') && JSON.stringify(x.args).includes('acknowledged'));
      assert.ok(said.length >= 4, 'two acknowledgements said, two page messages updated');
      for (const x of said) assert.ok(!JSON.stringify(x.args).includes(`<@${ALICE}>`), JSON.stringify(x.args).slice(0, 300));
      // The timeline and the audit log do not make Alice their author.
      const lines = (await bot.fb.deps.store.listTimeline(third.id)).filter((e) => e.kind === 'page' && /acknowledged the page/.test(e.text));
      assert.equal(lines.length, 2);
      for (const e of lines) {
        assert.equal(e.author, null, e.text);
        assert.ok(!e.text.includes(`<@${ALICE}>`), e.text);
      }
      const audits = (await bot.fb.deps.store.listAudit({ incidentId: third.id })).filter((e) => e.action === 'oncall.page_acknowledged');
      assert.deepEqual(
        audits.map((e) => e.actor),
        ['system', 'system'],
      );
    });

    // After the reminders (it moves the clock to let the job retry); the incident is resolved by then.
    if (c.followupRoute) {
      test('a follow-up whose create timed out after the backend recorded it is created once: the retry finds it by its marker', async () => {
        // The backend commits the create, then stalls past the client's timeout: we do not know it worked.
        const server = c.name.startsWith('Rootly') ? rootly : iio;
        server.inject(c.followupRoute!, { hangAfterCommit: true, times: 1 });
        const creates = () => server.calls({ route: c.followupRoute! }).length;
        const before = creates();
        await inChannel('followup Page the database team on replica lag');
        const f = await bot.waitFor(
          async () => (await bot.fb.deps.store.listFollowups({ incidentId: incident.id })).find((x) => /replica lag/.test(x.text)),
          3000,
          'follow-up',
        );
        await bot.waitFor(() => creates() === before + 1, 5000, 'the first create reached the backend');
        await bot.waitFor(() => c.followups().filter((t) => /replica lag/.test(t)).length === 1, 3000, 'committed by the backend');
        // The job fails on the timeout and is retried (on the test's clock): it looks before it creates.
        await new Promise((r) => setTimeout(r, CLIENT_TIMEOUT_MS + 300));
        for (let n = 0; n < 5 && !(await bot.fb.deps.store.getFollowup(f.id))!.backendId; n++) await advance(2);
        const stored = await bot.waitFor(
          async () => ((await bot.fb.deps.store.getFollowup(f.id))?.backendId ? (await bot.fb.deps.store.getFollowup(f.id))! : null),
          5000,
          'backend id recorded',
        );
        assert.equal(c.followups().filter((t) => /replica lag/.test(t)).length, 1, 'one follow-up in the backend');
        assert.equal(creates(), before + 1, 'no second create');
        const backendIds = c.name.startsWith('Rootly') ? rootly.actionItems().map((a) => a.id) : iio.followUps().map((x) => x.id);
        assert.ok(backendIds.includes(stored.backendId!), 'the store points at the one the backend has');
      });
    }
  });
}
