import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startBot, type Bot } from './harness.js';
import { GENERAL_CHANNEL_ID, INCIDENTS_CHANNEL_ID } from '../../src/emulator/slack/index.js';
import type { Incident } from '../../src/domain/incident.js';
import { ALICE, blocksText, BOB, CAROL, declare, messagesWithMarker, openView, waitForIncident } from './helpers.js';
import { Actions, FormBlocks, INPUT, Views } from '../../src/slack/ids.js';

let bot: Bot;
let incident: Incident;

const reload = async () => (await bot.fb.deps.store.getIncident(incident.id))!;
const card = () => messagesWithMarker(bot.emulator, incident.channelId!, `card:${incident.id}`)[0]!;
const announcementPost = () => messagesWithMarker(bot.emulator, INCIDENTS_CHANNEL_ID, `announce:${incident.id}`)[0]!;
const inChannel = (text: string, user = ALICE) => bot.driver.slash(text, { user, channel: incident.channelId! });
const settled = () => bot.settled();

before(async () => {
  bot = await startBot();
  incident = await declare(bot, 'high Login failures for EU users');
});
after(async () => bot.close());

test('/incident status answers with severity, status, roles and the latest timeline', async () => {
  const r = await inChannel('status');
  assert.equal(r.status, 200);
  const reply = await bot.waitFor(() => bot.emulator.state.ephemeralsFor(ALICE, incident.channelId!).find((e) => /Login failures/.test(e.text)), 3000);
  assert.match(reply.text, /high/);
  assert.match(reply.text, /investigating/);
  assert.match(reply.text, /commander: <@U0ALICE01>/);
});

test('/incident update posts to the channel and the timeline, audited with the user', async () => {
  await inChannel('update Rolled back the auth service config', BOB);
  await bot.waitFor(() => bot.emulator.state.messages(incident.channelId!).some((m) => m.text.includes('Rolled back the auth service config')), 3000);
  const tl = await bot.fb.deps.store.listTimeline(incident.id);
  assert.ok(tl.some((t) => t.kind === 'update' && t.text === 'Rolled back the auth service config' && t.author === BOB));
  const audit = await bot.fb.deps.store.listAudit({ incidentId: incident.id });
  assert.ok(audit.some((a) => a.action === 'incident.update_posted' && a.actor === BOB));
});

test('/incident update naming people as Slack sends them (should_escape: <@U…|name>) reads @name, pinging nobody', async () => {
  await inChannel(`update handing over to <@${CAROL}|carol>; see <#${INCIDENTS_CHANNEL_ID}|incidents> and <!subteam^S0SRELEADS|@sre-leads>`, BOB);
  const posted = await bot.waitFor(() => bot.emulator.state.messages(incident.channelId!).find((m) => m.text.includes('handing over')), 3000);
  assert.match(
    posted.text,
    new RegExp(`from <@${BOB}>: handing over to @carol; see #incidents and @sre-leads$`),
    "only the bot's own mention of the author is markup",
  );
});

test('a title typed with @bob and #incidents (sent as <@U…|bob>, <#C…|incidents>) is recorded, headed and named as the words', async () => {
  await bot.driver.slash(`declare sev3 Payments slow, ask <@${BOB}|bob> in <#${INCIDENTS_CHANNEL_ID}|incidents>`, { user: ALICE, channel: GENERAL_CHANNEL_ID });
  const i = await waitForIncident(bot, 'Payments slow, ask @bob in #incidents');
  await settled();
  const channel = bot.emulator.state.channel((await bot.fb.deps.store.getIncident(i.id))!.channelId!)!;
  assert.match(channel.name, /payments-slow-ask-bob-in-incidents$/);
  const header = messagesWithMarker(bot.emulator, channel.id, `card:${i.id}`)[0]!.blocks!.find((b) => (b as { type: string }).type === 'header') as {
    text: { text: string };
  };
  assert.match(header.text.text, /Payments slow, ask @bob in #incidents$/);
  await bot.driver.slash('resolve', { user: ALICE, channel: channel.id });
  await bot.waitFor(async () => (await bot.fb.deps.store.getIncident(i.id))?.status === 'resolved', 3000);
  await settled();
});

test('/incident sev changes severity; card, topic and announcement are updated in place', async () => {
  const cardTs = card().ts;
  await inChannel('sev SEV1');
  await bot.waitFor(async () => (await reload()).severity === 'critical', 3000);
  await settled();
  assert.equal(card().ts, cardTs, 'same card message');
  assert.match(blocksText(card().blocks), /critical/);
  assert.match(bot.emulator.state.channel(incident.channelId!)!.topic.value, /^CRITICAL \|/);
  assert.match(blocksText(announcementPost().blocks), /critical/);
  assert.equal(messagesWithMarker(bot.emulator, INCIDENTS_CHANNEL_ID, `announce:${incident.id}`).length, 1);
  const bad = await inChannel('sev urgent');
  assert.match(bad.text, /critical, high, medium, low/);
});

test('/incident role assigns and invites; commander change shows on the card and topic', async () => {
  await inChannel(`role commander <@${CAROL}>`);
  await bot.waitFor(async () => (await reload()).commanderId === CAROL, 3000);
  await settled();
  assert.ok(bot.emulator.state.channel(incident.channelId!)!.members.includes(CAROL));
  assert.match(bot.emulator.state.channel(incident.channelId!)!.topic.value, /IC: <@U0CAROL01>/);
  assert.match(blocksText(card().blocks), /U0CAROL01/);
  await inChannel(`role scribe <@${BOB}>`);
  await bot.waitFor(async () => (await bot.fb.deps.store.getRoles(incident.id)).scribe === BOB, 3000);
  const unknown = await inChannel(`role pilot <@${BOB}>`);
  assert.match(unknown.text, /Unknown role/);
});

test('a :pushpin: reaction adds the message to the timeline once, even when several people react', async () => {
  const { ts } = await bot.driver.userMessage(incident.channelId!, BOB, 'Error rate dropped after the config rollback');
  await bot.driver.reaction(incident.channelId!, ts, ALICE, 'pushpin');
  await bot.driver.reaction(incident.channelId!, ts, CAROL, 'pushpin');
  const redelivery = await bot.driver.reaction(incident.channelId!, ts, CAROL, 'eyes');
  assert.equal(redelivery.status, 200);
  await settled();
  const pins = (await bot.fb.deps.store.listTimeline(incident.id)).filter((t) => t.kind === 'pin');
  assert.equal(pins.length, 1);
  assert.equal(pins[0]!.text, 'Error rate dropped after the config rollback');
});

test('mitigate then resolve: status on card, topic and announcement; resolve posts a post-mortem draft', async () => {
  await inChannel('mitigate config rolled back');
  await bot.waitFor(async () => (await reload()).status === 'mitigated', 3000);
  await settled();
  assert.match(bot.emulator.state.channel(incident.channelId!)!.topic.value, /\| mitigated \|/);
  // Someone opens the status form, then the incident is resolved before they submit it.
  await bot.driver.click({ channel: incident.channelId!, ts: card().ts }, Actions.cardUpdateStatus, { user: BOB });
  const form = await bot.waitFor(() => openView(bot.emulator, BOB, Views.status), 3000, 'status form');
  await inChannel('resolve error rate back to baseline');
  await bot.waitFor(async () => (await reload()).status === 'resolved', 3000);
  await bot.driver.submitView(form.id, { [FormBlocks.status]: { [INPUT]: 'mitigated' } }, { user: BOB });
  await settled();
  const i = await reload();
  assert.ok(i.resolvedAt);
  assert.doesNotMatch(blocksText(card().blocks), /Update status/, 'buttons gone once resolved');
  assert.match(blocksText(announcementPost().blocks), /resolved/i);
  const pm = await bot.waitFor(() => messagesWithMarker(bot.emulator, incident.channelId!, `postmortem:${incident.id}`)[0], 5000, 'post-mortem draft');
  // Shown as Block Kit, not Markdown text: the sections are header blocks; no `#`, raw ids or event names.
  const pmBlocks = (pm.blocks ?? []) as Array<{ type: string; text?: { text: string } }>;
  const headers = pmBlocks.filter((b) => b.type === 'header').map((b) => b.text!.text);
  for (const section of ['Summary', 'Root Cause', 'Trigger', 'Impact', 'Timeline', 'Resolution', 'Prevention']) assert.ok(headers.includes(section), section);
  const pmText = blocksText(pm.blocks);
  assert.doesNotMatch(pmText, /^#|\n#|\(U[A-Z0-9]+\)|severity_changed|role_assigned/);
  assert.match(pmText, /severity changed/);
  assert.match(pmText, /<!date\^\d+\^[^|]+\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>/, 'times are date tokens with a UTC fallback');
  assert.ok(pmBlocks.length <= 50);
  const saved = await bot.waitFor(() => bot.fb.deps.store.getKv<{ markdown: string }>(`postmortem:${incident.id}`), 5000, 'post-mortem saved');
  assert.ok(saved.markdown.includes('## Root Cause'), 'saved to the local backend as Markdown');
  // The late form submission was refused, privately, in the incident channel; the status held.
  await bot.waitFor(() => bot.emulator.state.ephemeralsFor(BOB, incident.channelId!).some((e) => /cannot become mitigated/.test(e.text)), 3000, 'refusal');
  assert.equal((await reload()).status, 'resolved');
  const audit = (await bot.fb.deps.store.listAudit({ incidentId: incident.id })).map((a) => a.action);
  for (const a of ['incident.declared', 'incident.severity_changed', 'incident.role_assigned', 'incident.mitigated', 'incident.resolved'])
    assert.ok(audit.includes(a), a);
});

test('/incident list shows open incidents with channel links; the Home tab lists them by severity', async () => {
  await bot.driver.slash('declare low Slow dashboards', { user: BOB, channel: GENERAL_CHANNEL_ID });
  await bot.driver.slash('declare critical Checkout down', { user: BOB, channel: GENERAL_CHANNEL_ID });
  await bot.waitFor(async () => (await bot.fb.deps.store.listOpenIncidents()).filter((i) => i.channelId).length === 2, 5000);
  const r = await bot.driver.slash('list', { user: BOB, channel: GENERAL_CHANNEL_ID });
  assert.equal(r.status, 200);
  const list = await bot.waitFor(
    () => bot.emulator.state.ephemeralsFor(BOB, GENERAL_CHANNEL_ID).find((e) => /Open incidents/.test(blocksText(e.blocks))),
    3000,
  );
  assert.match(blocksText(list.blocks), /Checkout down/);
  assert.doesNotMatch(blocksText(list.blocks), /Login failures/, 'resolved incident not listed');
  await bot.driver.appHomeOpened(BOB);
  const home = await bot.waitFor(() => bot.emulator.state.homeView(BOB), 3000);
  const text = blocksText(home.blocks);
  assert.ok(text.indexOf('Checkout down') < text.indexOf('Slow dashboards'), 'critical before low');
});

test('commands that need an incident channel say so outside one', async () => {
  const r = await bot.driver.slash('resolve', { user: ALICE, channel: GENERAL_CHANNEL_ID });
  assert.equal(r.status, 200);
  await bot.waitFor(() => bot.emulator.state.ephemeralsFor(ALICE, GENERAL_CHANNEL_ID).some((e) => /not an incident channel/.test(e.text)), 3000);
});

test('a Slack retry of an event (x-slack-retry-num, same event id) is processed once', async () => {
  const first = await bot.driver.appHomeOpened(CAROL);
  await bot.waitFor(() => bot.emulator.state.homeView(CAROL), 3000);
  const publishes = bot.emulator.calls('views.publish').length;
  const retry = await bot.driver.event(
    { type: 'app_home_opened', user: CAROL, channel: 'D0CAROL', tab: 'home', event_ts: String(Date.now() / 1000) },
    { eventId: first.eventId, retryNum: 1, retryReason: 'http_timeout' },
  );
  assert.equal(retry.status, 200);
  await settled();
  assert.equal(bot.emulator.calls('views.publish').length, publishes);
});
