import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import type { Incident } from '../../src/domain/incident.js';
import { signGeneric } from '../../src/webhooks/verify.js';
import { Actions } from '../../src/slack/ids.js';
import { startBot, type Bot } from './harness.js';
import { ALICE, BOB, blocksText, messagesWithMarker } from './helpers.js';

const SECRET = 'e2e-storm-alert-secret-0123';

async function fire(bot: Bot, title: string, service: string, n = 0): Promise<void> {
  const body = JSON.stringify({ title, service, severity: 'critical', external_id: `storm-${title}-${n}-${Math.random()}` });
  // Signed at the bot's own time (a test may move its clock on).
  const ts = Math.floor(bot.fb.deps.clock.now().getTime() / 1000);
  const res = await fetch(`${bot.url}/webhooks/alerts/generic`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-firebreak-timestamp': String(ts), 'x-firebreak-signature': signGeneric(SECRET, ts, body) },
    body,
  });
  assert.equal(res.status, 202, await res.text());
}

const open = async (bot: Bot) => bot.fb.deps.store.listOpenIncidents();
const storms = async (bot: Bot) => (await open(bot)).filter((i) => i.title.startsWith('[STORM]'));

/** The storm's list messages in its channel (each page is one message, edited in place). */
const listMessages = (bot: Bot, storm: Incident) => messagesWithMarker(bot.emulator, storm.channelId!, `storm-list:${storm.id}:`);

describe('alert storms: grouping above the rate of new incidents, and Split out', () => {
  let bot: Bot;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-storm-'));
    const cfg = join(dir, 'firebreak.yml');
    // Three incidents from alerts per five minutes; Bob is a responder (so he may take command of
    // alert incidents, and split alerts out of a storm); Alice is neither a responder nor an approver.
    writeFileSync(
      cfg,
      stringify({
        responders: [BOB],
        alerts: { batch_seconds: 1, storm: { max_new_incidents: 3, window_minutes: 5, group_by: 'service', list_update_seconds: 1 } },
      }),
    );
    bot = await startBot({ env: { ALERT_WEBHOOK_SECRET: SECRET, FIREBREAK_CONFIG: cfg } });
  });
  after(async () => {
    await bot.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('three alerts open incidents; the next ones join one storm per service, listed in one message that grows in place', async () => {
    for (const t of ['Checkout alpha down', 'Checkout bravo down', 'Checkout charlie down']) await fire(bot, t, 'checkout');
    await bot.waitFor(async () => (await open(bot)).filter((i) => i.cardTs).length === 3, 15_000, 'three incidents of their own');

    for (const [t, s] of [
      ['Checkout delta down', 'checkout'],
      ['Checkout echo down', 'checkout'],
      ['Search foxtrot slow', 'search'],
      ['Search golf slow', 'search'],
    ] as const)
      await fire(bot, t, s);
    const both = await bot.waitFor(
      async () => {
        const s = await storms(bot);
        return s.length === 2 && s.every((x) => x.alertCount === 2 && x.cardTs) ? s : null;
      },
      15_000,
      'two storms (checkout, search) with two alerts each',
    );
    assert.deepEqual(both.map((s) => s.title).sort(), ['[STORM] Alerts on checkout', '[STORM] Alerts on search']);
    assert.equal((await open(bot)).length, 5, 'three incidents of their own and two storms: no incident per stormed alert');

    const checkout = both.find((s) => s.title.endsWith('checkout'))!;
    // The list is edited at most once per list_update_seconds and shows what was placed when it was
    // rendered: wait for the edit that shows both alerts (an earlier one may show only one of them).
    const first = await bot.waitFor(
      () => {
        const m = listMessages(bot, checkout);
        return m.length === 1 && /Checkout echo down/.test(blocksText(m[0]!.blocks)) && /Checkout delta down/.test(blocksText(m[0]!.blocks)) ? m[0] : null;
      },
      10_000,
      'the checkout storm list with both alerts',
    );
    assert.match(blocksText(first.blocks), /Checkout delta down/);
    assert.doesNotMatch(blocksText(first.blocks), /Search/, 'each service has its own storm');

    // A new alert and a repeat of a listed one: the same message is edited, the repeat only counts.
    await fire(bot, 'Checkout hotel down', 'checkout');
    await fire(bot, 'Checkout delta down', 'checkout', 2);
    // The edit that lists the new alert may have been rendered before the repeat was counted (the
    // count line then says 3): wait for the one a person would see last, with both in.
    const grown = await bot.waitFor(
      async () => {
        const s = await bot.fb.deps.store.getIncident(checkout.id);
        const m = listMessages(bot, checkout);
        const text = m.length === 1 ? blocksText(m[0]!.blocks) : '';
        return s!.alertCount === 4 && /Checkout hotel down/.test(text) && /4 alerts in this storm so far/.test(text) ? m[0] : null;
      },
      10_000,
      'the list to grow in place and count the repeat',
    );
    assert.equal(grown.ts, first.ts, 'edited in place, not posted again');
    assert.equal((blocksText(grown.blocks).match(/Checkout delta down/g) ?? []).length, 1, 'one line per alert, however often it fires');
    assert.match(blocksText(grown.blocks), /4 alerts in this storm so far, from 3 distinct sources/);
    assert.equal((await open(bot)).length, 5);
  });

  test('Split out: refused to someone not allowed; for a responder, one incident however often clicked; its next firings go there', async () => {
    const checkout = (await storms(bot)).find((s) => s.title.endsWith('checkout'))!;
    const list = listMessages(bot, checkout)[0]!;
    const delta = (await bot.fb.deps.store.listAlerts({ incidentId: checkout.id })).find((a) => a.title === 'Checkout delta down')!;
    const ref = { channel: checkout.channelId!, ts: list.ts };
    const block = `storm-alert:${delta.id}`;

    await bot.driver.click(ref, Actions.stormSplitOut, { user: ALICE, blockId: block });
    await bot.waitFor(() => bot.emulator.state.ephemerals.find((e) => e.user === ALICE && /may not split/.test(e.text ?? '')), 5000, 'the refusal');
    await bot.fb.deps.jobs.idle();
    assert.equal((await open(bot)).length, 5, 'nothing split for Alice');
    assert.ok((await bot.fb.deps.store.listAudit({ incidentId: checkout.id })).some((a) => a.action === 'alert.split_refused' && a.actor === ALICE));

    // A double click (and a second person's click) split it out once.
    await Promise.all([1, 2, 3].map(() => bot.driver.click(ref, Actions.stormSplitOut, { user: BOB, blockId: block })));
    const own = await bot.waitFor(
      async () => (await open(bot)).find((i) => i.title === '[GENERIC] Checkout delta down' && i.cardTs),
      15_000,
      'the split-out incident',
    );
    await bot.fb.deps.jobs.idle();
    assert.equal((await open(bot)).filter((i) => i.title === '[GENERIC] Checkout delta down').length, 1, 'exactly one incident however often clicked');
    assert.equal(own.alertCount, 2, 'its two firings moved with it');
    assert.equal((await bot.fb.deps.store.getIncident(checkout.id))!.alertCount, 2, 'and left the storm count');
    const shown = await bot.waitFor(
      () => {
        const m = listMessages(bot, checkout)[0]!;
        return blocksText(m.blocks).includes(`split out by <@${BOB}> into <#${own.channelId}>`) ? m : null;
      },
      10_000,
      'the list to show the split, linking to the new channel',
    );
    assert.equal(shown.ts, list.ts, 'the same message, edited');
    assert.match(blocksText(shown.blocks), /2 alerts in this storm so far, from 2 distinct sources · 1 split out/);
    assert.equal((await bot.fb.deps.store.listAudit({ incidentId: checkout.id })).filter((a) => a.action === 'alert.split_out').length, 1);

    // Its line no longer offers the button; the other alerts still do.
    await assert.rejects(bot.driver.click(ref, Actions.stormSplitOut, { user: BOB, blockId: block }), /no element with action_id/);
    assert.equal((blocksText(shown.blocks).match(/storm_split_out/g) ?? []).length, 2);

    // The next firing of that alert joins its own incident, not the storm.
    await fire(bot, 'Checkout delta down', 'checkout', 3);
    await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(own.id))!.alertCount === 3, 10_000, 'the firing to join the split-out incident');
    await bot.fb.deps.jobs.idle();
    assert.equal((await bot.fb.deps.store.getIncident(checkout.id))!.alertCount, 2);
  });
});

describe('alert storms grouped overall (group_by: all), and the window sliding on', () => {
  let bot: Bot;
  let dir: string;
  let offsetMs = 0;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firebreak-storm-all-'));
    const cfg = join(dir, 'firebreak.yml');
    writeFileSync(
      cfg,
      stringify({ alerts: { batch_seconds: 1, storm: { max_new_incidents: 2, window_minutes: 5, group_by: 'all', list_update_seconds: 1 } } }),
    );
    bot = await startBot({ env: { ALERT_WEBHOOK_SECRET: SECRET, FIREBREAK_CONFIG: cfg }, build: { clock: { now: () => new Date(Date.now() + offsetMs) } } });
  });
  after(async () => {
    await bot.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('above the threshold alerts of every service join one storm; once the window has passed a new alert opens its own incident again', async () => {
    await fire(bot, 'Checkout alpha down', 'checkout');
    await fire(bot, 'Search bravo slow', 'search');
    await bot.waitFor(async () => (await open(bot)).filter((i) => i.cardTs).length === 2, 15_000, 'two incidents of their own');

    await fire(bot, 'Payments charlie failing', 'payments');
    await fire(bot, 'Auth delta failing', 'auth');
    const [storm] = await bot.waitFor(
      async () => {
        const s = await storms(bot);
        return s.length === 1 && s[0]!.alertCount === 2 && s[0]!.cardTs ? s : null;
      },
      15_000,
      'one storm with both alerts',
    );
    assert.equal(storm!.title, '[STORM] Alert storm', 'one storm for every service, not one per service');
    assert.deepEqual(storm!.services, []);
    const list = await bot.waitFor(
      () => {
        const m = listMessages(bot, storm!);
        const text = m.length === 1 ? blocksText(m[0]!.blocks) : '';
        return /Payments charlie failing/.test(text) && /Auth delta failing/.test(text) ? text : null;
      },
      10_000,
      'the storm list with the alerts of both services',
    );
    assert.match(list, /2 alerts in this storm so far, from 2 distinct sources/);
    assert.equal((await open(bot)).length, 3, 'two incidents of their own and one storm');

    // Six minutes on, the two incidents that filled the window are out of it: a new alert gets its own again.
    offsetMs = 6 * 60_000;
    await fire(bot, 'Inventory echo down', 'inventory');
    const own = await bot.waitFor(
      async () => (await open(bot)).find((i) => i.title === '[GENERIC] Inventory echo down' && i.cardTs),
      15_000,
      'an incident of its own after the window',
    );
    assert.equal(own.alertCount, 1);
    await bot.fb.deps.jobs.idle();
    assert.equal((await bot.fb.deps.store.getIncident(storm!.id))!.alertCount, 2, 'not added to the storm');
    assert.equal((await open(bot)).length, 4);
  });
});
