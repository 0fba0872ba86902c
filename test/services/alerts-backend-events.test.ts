import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { createLocalBackend } from '../../src/adapters/backend/local.js';
import type { IncidentBackend } from '../../src/ports/backend.js';
import type { Store } from '../../src/ports/store.js';
import { declareIncident } from '../../src/services/declare.js';
import { changeStatus, syncToBackend } from '../../src/services/lifecycle.js';
import { runIncidentCommand } from '../../src/services/commands.js';
import { postmortemJob } from '../../src/services/summaries.js';
import type { SummaryContext } from '../../src/ports/summarizer.js';
import { signRootly, signSvix } from '../../src/webhooks/verify.js';
import { openTestSqliteStore } from '../store/pg-helper.js';
import { buildHarness, call, route, SECRETS, type Harness } from '../webhooks/harness.js';

const fixture = (name: string): any => JSON.parse(readFileSync(new URL(`../fixtures/alerts/${name}`, import.meta.url), 'utf8'));

async function rootly(h: Harness, payload: unknown) {
  const body = JSON.stringify(payload);
  const t = Math.floor(h.clock.now().getTime() / 1000);
  const res = await call(route(h, '/webhooks/rootly'), body, { 'X-Rootly-Signature': signRootly(SECRETS.ROOTLY_WEBHOOK_SECRET, body, t) });
  assert.ok(res.status === 202 || res.status === 200, JSON.stringify(res.body));
  return res;
}

async function incidentio(h: Harness, payload: unknown, id: string) {
  const body = JSON.stringify(payload);
  const t = Math.floor(h.clock.now().getTime() / 1000);
  const res = await call(route(h, '/webhooks/incidentio'), body, {
    'webhook-id': id,
    'webhook-timestamp': String(t),
    'webhook-signature': signSvix(SECRETS.INCIDENTIO_WEBHOOK_SECRET, id, t, body),
  });
  assert.ok(res.status === 202 || res.status === 200, JSON.stringify(res.body));
  return res;
}

/** A backend that behaves like Rootly for naming: ids of its own, and the `firebreak_id` label is ours to match. */
function fakeRootlyBackend(store: Store, created: { firebreakId: string; backendId: string }[]): IncidentBackend {
  const local = createLocalBackend(store);
  return {
    ...local,
    name: 'rootly',
    async createIncident(input) {
      const backendId = `rootly-${created.length + 1}`;
      created.push({ firebreakId: input.firebreakId, backendId });
      return { backendId, url: `https://rootly.com/account/incidents/${backendId}` };
    },
  };
}

describe('Rootly webhooks', () => {
  test('incident.created from the Rootly UI → one announcement, adopted (no second Rootly record), channel at high', async () => {
    const h = await buildHarness();
    try {
      await rootly(h, fixture('rootly-incident-created.json'));
      await h.drain();
      const [incident, ...rest] = await h.store.listOpenIncidents();
      assert.equal(rest.length, 0);
      assert.equal(incident!.origin, 'rootly');
      assert.equal(incident!.title, 'Card payments declined for EU customers');
      assert.equal(incident!.severity, 'high');
      assert.equal(incident!.backendId, 'c7d2e3f4-6a7b-4c8d-9e0f-1a2b3c4d5e6f');
      assert.ok(incident!.channelId);
      assert.equal(h.chat.announcements().length, 1);

      // The same incident announced again under a new event id (Rootly re-sends on its side): still one.
      const again = fixture('rootly-incident-created.json');
      again.event.id = 'another-event-id';
      await rootly(h, again);
      await h.drain();
      assert.equal((await h.store.listOpenIncidents()).length, 1);
      assert.equal(h.chat.announcements().length, 1);
    } finally {
      await h.close();
    }
  });

  test('Slack-declared incident whose Rootly incident.created arrives afterwards is not announced twice', async () => {
    const s = await openTestSqliteStore();
    const created: { firebreakId: string; backendId: string }[] = [];
    const h = await buildHarness({ store: s.store, backend: fakeRootlyBackend(s.store, created) });
    try {
      const { incident } = await declareIncident(h.deps, {
        title: 'Checkout API 500s',
        severity: 'critical',
        description: 'declared from Slack',
        services: [],
        private: false,
        commanderId: 'U0ALICE01',
        declaredBy: 'U0ALICE01',
        origin: 'slack',
        dedupeKey: 'view:V123',
        channel: 'always',
      });
      await h.drain();
      assert.equal(h.chat.announcements().length, 1);
      assert.equal(created.length, 1);
      // Rootly tells us about the incident we just created, with our label on it.
      const payload = fixture('rootly-incident-created.json');
      payload.event.id = 'evt-from-our-own-create';
      payload.data.id = created[0]!.backendId;
      payload.data.title = 'Checkout API 500s';
      payload.data.labels = { firebreak_id: incident.id };
      await rootly(h, payload);
      // And the same without the label (matched by backend id).
      const unlabelled = structuredClone(payload);
      unlabelled.event.id = 'evt-2';
      unlabelled.data.labels = {};
      await rootly(h, unlabelled);
      await h.drain();
      assert.equal((await h.store.listOpenIncidents()).length, 1);
      assert.equal(h.chat.announcements().length, 1);
    } finally {
      await h.close();
      await s.cleanup();
    }
  });

  test("another Rootly incident carrying our incident's firebreak_id label does not change ours (labels are editable by anyone in Rootly)", async () => {
    const s = await openTestSqliteStore();
    const created: { firebreakId: string; backendId: string }[] = [];
    const h = await buildHarness({ store: s.store, backend: fakeRootlyBackend(s.store, created) });
    try {
      const { incident } = await declareIncident(h.deps, {
        title: 'Checkout API 500s',
        severity: 'critical',
        description: '',
        services: [],
        private: false,
        commanderId: 'U0ALICE01',
        declaredBy: 'U0ALICE01',
        origin: 'slack',
        dedupeKey: 'view:V-label',
        channel: 'always',
      });
      await h.drain();
      assert.equal((await h.store.getIncident(incident.id))!.backendId, created[0]!.backendId);
      // Someone in Rootly labels an unrelated incident with our id, renames and resolves it there.
      const forged = fixture('rootly-incident-mitigated.json');
      forged.event = { id: 'evt-forged-label', type: 'incident.resolved', issued_at: new Date(h.clock.now().getTime() + 60_000).toISOString() };
      forged.data.id = 'rootly-someone-elses';
      forged.data.status = 'resolved';
      forged.data.title = 'Nothing to see here';
      forged.data.labels = { firebreak_id: incident.id };
      h.clock.advance(120_000);
      await rootly(h, forged);
      await h.drain();
      const after = (await h.store.getIncident(incident.id))!;
      assert.deepEqual({ status: after.status, title: after.title }, { status: 'investigating', title: 'Checkout API 500s' });
      assert.ok(!h.chat.posts.some((p) => /Updated in Rootly/.test(p.text)), 'nothing said in its channel');

      // A new Rootly incident with our label is its own incident, announced as usual (not hidden as "ours").
      const other = fixture('rootly-incident-created.json');
      other.event.id = 'evt-forged-created';
      other.data.id = 'rootly-new-with-our-label';
      other.data.title = 'Queue backlog in eu-west';
      other.data.labels = { firebreak_id: incident.id };
      await rootly(h, other);
      await h.drain();
      const open = await h.store.listOpenIncidents();
      assert.deepEqual(open.map((i) => i.title).sort(), ['Checkout API 500s', 'Queue backlog in eu-west']);
    } finally {
      await h.close();
      await s.cleanup();
    }
  });

  test('a created webhook that outruns our own declare flow waits for it instead of announcing a duplicate', async () => {
    const s = await openTestSqliteStore();
    const created: { firebreakId: string; backendId: string }[] = [];
    const h = await buildHarness({ store: s.store, backend: fakeRootlyBackend(s.store, created) });
    try {
      await h.runner.stop(100); // the declare flow has not run yet
      await declareIncident(h.deps, {
        title: 'Search is down',
        severity: 'high',
        description: '',
        services: [],
        private: false,
        commanderId: null,
        declaredBy: 'U0BOB0001',
        origin: 'slack',
        dedupeKey: 'view:V999',
        channel: 'always',
      });
      const payload = fixture('rootly-incident-created.json');
      payload.event.id = 'evt-early';
      payload.data.id = 'rootly-1'; // the id the flow is about to record
      payload.data.title = 'Search is down';
      await rootly(h, payload);
      const { handleBackendEvent, parseRootlyEvent } = await import('../../src/services/backend-events.js');
      const parsed = parseRootlyEvent(payload);
      assert.ok(parsed.ok && 'event' in parsed);
      await assert.rejects(handleBackendEvent(h.deps, parsed.event), /declare flow still running/);
      assert.equal((await h.store.listOpenIncidents()).length, 1);
    } finally {
      await h.close();
      await s.cleanup();
    }
  });

  test('incident.mitigated from Rootly updates the store, the card and the announcement; our own change does not echo', async () => {
    const h = await buildHarness();
    try {
      await rootly(h, fixture('rootly-incident-created.json'));
      await h.drain();
      const [incident] = await h.store.listOpenIncidents();
      const announceTs = incident!.announceTs!;
      const postsBefore = h.chat.posts.length;
      h.clock.advance(15 * 60_000); // 10:20, when Rootly says it was mitigated
      await rootly(h, fixture('rootly-incident-mitigated.json'));
      await h.drain();
      const after = await h.store.getIncident(incident!.id);
      assert.equal(after!.status, 'mitigated');
      const channelPosts = h.chat.posts.slice(postsBefore).filter((p) => p.channel === incident!.channelId);
      assert.equal(channelPosts.length, 1);
      assert.match(channelPosts[0]!.text, /Updated in Rootly: status → \*mitigated\*/);
      assert.ok(
        h.chat.updates.some((u) => u.ts === announceTs && /mitigated/i.test(JSON.stringify(u.blocks) + u.text)),
        'announcement updated in place',
      );

      // Resolve in Slack; Rootly then sends incident.resolved for our own change: nothing more is posted.
      h.clock.advance(60_000);
      await changeStatus(h.deps, incident!.id, 'resolved', 'U0ALICE01');
      await h.drain();
      const postsAfterOwn = h.chat.posts.length;
      const updatesAfterOwn = h.chat.updates.length;
      const resolved = fixture('rootly-incident-mitigated.json');
      resolved.event = { id: 'evt-resolved-echo', type: 'incident.resolved', issued_at: new Date(h.clock.now().getTime() + 1000).toISOString() };
      resolved.data.status = 'resolved';
      h.clock.advance(2000);
      await rootly(h, resolved);
      await h.drain();
      assert.equal(h.chat.posts.length, postsAfterOwn);
      assert.equal(h.chat.updates.length, updatesAfterOwn);
      assert.equal((await h.store.getIncident(incident!.id))!.status, 'resolved');
    } finally {
      await h.close();
    }
  });

  test('a private incident created in Rootly: announced without its title or summary, no channel of ours, and later events keep it private', async () => {
    const h = await buildHarness();
    try {
      const created = fixture('rootly-incident-created.json');
      created.data.private = true;
      created.data.title = 'Credential stuffing on the admin console';
      created.data.summary = 'Attacker IPs in the WAF log';
      await rootly(h, created);
      await h.drain();
      const [incident] = await h.store.listOpenIncidents();
      assert.equal(incident!.private, true);
      assert.equal(incident!.channelId, null, 'no channel of ours: its members are chosen in Rootly');
      assert.equal(h.chat.channels.size, 0);
      const shown = JSON.stringify(h.chat.announcements());
      assert.equal(h.chat.announcements().length, 1);
      assert.doesNotMatch(shown, /Credential stuffing|Attacker IPs/);
      assert.doesNotMatch(JSON.stringify(h.chat.posts), /Credential stuffing|Attacker IPs/, 'nothing of it posted anywhere');
      const { listIncidentsForAgent } = await import('../../src/services/agents.js');
      const agentSees = (await listIncidentsForAgent(h.deps, { name: 'claude-code', scopes: ['read'], incidents: null }, { limit: 50 })).incidents;
      assert.equal(agentSees.length, 0, 'hidden from agents');
      assert.match(shown, /private incident/);

      // Renamed there: the announcement still shows nothing of it.
      const renamed = fixture('rootly-incident-mitigated.json');
      renamed.event = { id: 'evt-private-renamed', type: 'incident.updated', issued_at: new Date(h.clock.now().getTime() + 60_000).toISOString() };
      renamed.data.id = created.data.id;
      renamed.data.private = true;
      renamed.data.status = 'started';
      renamed.data.title = 'Admin console takeover attempt';
      h.clock.advance(120_000);
      await rootly(h, renamed);
      await h.drain();
      const everything = JSON.stringify([h.chat.posts, h.chat.updates]);
      assert.doesNotMatch(everything, /Credential stuffing|Attacker IPs|takeover/);
    } finally {
      await h.close();
    }
  });

  test('a public Rootly incident made private there is mirrored as private: its new title stays out of the announcement', async () => {
    const h = await buildHarness();
    try {
      await rootly(h, fixture('rootly-incident-created.json'));
      await h.drain();
      const [incident] = await h.store.listOpenIncidents();
      assert.equal(incident!.private, false);
      const updated = fixture('rootly-incident-mitigated.json');
      updated.event = { id: 'evt-made-private', type: 'incident.updated', issued_at: new Date(h.clock.now().getTime() + 60_000).toISOString() };
      updated.data.private = true;
      updated.data.status = 'started';
      updated.data.title = 'Breach of the card vault';
      h.clock.advance(120_000);
      await rootly(h, updated);
      await h.drain();
      assert.equal((await h.store.getIncident(incident!.id))!.private, true);
      const announce = h.chat.announcements()[0]!;
      const shown = JSON.stringify(h.chat.updates.filter((u) => u.ts === announce.ts));
      assert.doesNotMatch(shown, /Breach of the card vault/);
    } finally {
      await h.close();
    }
  });

  test('made private in Rootly while its channel is public: the channel is told to go private (naming the commander), and not the new title (nor its card or topic)', async () => {
    const h = await buildHarness();
    try {
      await rootly(h, fixture('rootly-incident-created.json'));
      await h.drain();
      const [incident] = await h.store.listOpenIncidents();
      const channelId = incident!.channelId!;
      assert.equal(await h.chat.channelIsPrivate(channelId), false, 'a public channel, as Firebreak made it');
      await h.store.setRole(incident!.id, 'commander', 'U0ALICE01');
      let n = 0;
      const change = async (data: Record<string, unknown>) => {
        const ev = fixture('rootly-incident-mitigated.json');
        h.clock.advance(120_000);
        ev.event = { id: `evt-change-${++n}`, type: 'incident.updated', issued_at: h.clock.now().toISOString() };
        Object.assign(ev.data, { private: true, status: 'started' }, data);
        h.clock.advance(1_000);
        const seen = h.chat.posts.length;
        await rootly(h, ev);
        await h.drain();
        return h.chat.posts.slice(seen).filter((p) => p.channel === channelId);
      };

      const shownInChannel = (since: { updates: number; topics: number }) =>
        JSON.stringify([
          h.chat.updates.slice(since.updates).filter((u) => u.channel === channelId),
          h.chat.topics.slice(since.topics).filter((t) => t.channel === channelId),
        ]);
      const mark = () => ({ updates: h.chat.updates.length, topics: h.chat.topics.length });

      const beforeTurn = mark();
      const [turned, ...more] = await change({ title: 'Breach of the card vault' });
      const refreshed = shownInChannel(beforeTurn);
      assert.match(refreshed, /private incident/, 'the card and topic were refreshed');
      assert.doesNotMatch(refreshed, /Breach of the card vault/, 'nor in the card or the topic');
      assert.equal(more.length, 0);
      assert.doesNotMatch(turned!.text, /Breach of the card vault/);
      assert.match(turned!.text, /made \*private\*/);
      assert.match(turned!.text, /<@U0ALICE01>/, 'the commander is told');
      assert.match(turned!.text, /this channel is \*public\*/);
      assert.match(turned!.text, /Change to a private channel/);
      const timeline = await h.store.listTimeline(incident!.id);
      assert.ok(
        timeline.some((t) => t.text.includes('Breach of the card vault')),
        'the timeline keeps the whole change',
      );

      // Later changes, the channel still public: the title stays out, the warning is not repeated.
      const beforeLater = mark();
      const [later] = await change({ title: 'Card vault keys leaked', status: 'mitigated' });
      assert.match(later!.text, /status → \*mitigated\*/);
      assert.doesNotMatch(later!.text, /card vault/i);
      assert.doesNotMatch(shownInChannel(beforeLater), /card vault/i);
      assert.doesNotMatch(later!.text, /Change to a private channel/);

      // Once someone has made the channel private, the notes say everything again.
      [...h.chat.channels.values()].find((c) => c.id === channelId)!.isPrivate = true;
      const beforePrivate = mark();
      const [inPrivate] = await change({ title: 'Card vault keys rotated', status: 'mitigated' });
      assert.match(inPrivate!.text, /Card vault keys rotated/);
      assert.match(shownInChannel(beforePrivate), /Card vault keys rotated/, 'the card shows it again');
    } finally {
      await h.close();
    }
  });

  /** A Rootly incident with a public channel of ours, made private there (renamed, described) and left in that channel. */
  async function madePrivateInPublicChannel(h: Harness) {
    await rootly(h, fixture('rootly-incident-created.json'));
    await h.drain();
    const [incident] = await h.store.listOpenIncidents();
    const channelId = incident!.channelId!;
    const ev = fixture('rootly-incident-mitigated.json');
    h.clock.advance(120_000);
    ev.event = { id: 'evt-made-private-vault', type: 'incident.updated', issued_at: h.clock.now().toISOString() };
    Object.assign(ev.data, { private: true, status: 'started', title: 'Breach of the card vault', summary: 'Vault keys copied out' });
    h.clock.advance(1_000);
    await rootly(h, ev);
    await h.drain();
    assert.equal((await h.store.getIncident(incident!.id))!.private, true);
    assert.equal(await h.chat.channelIsPrivate(channelId), false);
    // Claude's writing, as it would be: about the incident, its title and timeline included.
    const about = (ctx: SummaryContext) => `# ${ctx.incident.title}\n${ctx.incident.description ?? ''}\n${ctx.timeline.map((t) => t.text).join('\n')}`;
    h.deps.summarizer = {
      ...h.deps.summarizer,
      summarize: async (ctx) => ({ text: `Catch-up: ${about(ctx)}`, fallback: false }),
      postmortem: async (ctx) => ({ text: about(ctx), fallback: false }),
    };
    const inChannel = (since: { posts: number; updates: number }) =>
      JSON.stringify([
        h.chat.posts.slice(since.posts).filter((p) => p.channel === channelId),
        h.chat.updates.slice(since.updates).filter((u) => u.channel === channelId),
      ]);
    const mark = () => ({ posts: h.chat.posts.length, updates: h.chat.updates.length });
    return { incident: (await h.store.getIncident(incident!.id))!, channelId, inChannel, mark };
  }

  test('resolved in Rootly while private in a public channel: the post-mortem draft is saved, and the channel gets only a notice without its title or timeline', async () => {
    const h = await buildHarness();
    try {
      h.runner.register(postmortemJob, h.deps);
      const { incident, channelId, inChannel, mark } = await madePrivateInPublicChannel(h);
      const before = mark();
      const ev = fixture('rootly-incident-mitigated.json');
      h.clock.advance(120_000);
      ev.event = { id: 'evt-vault-resolved', type: 'incident.updated', issued_at: h.clock.now().toISOString() };
      Object.assign(ev.data, { private: true, status: 'resolved', title: 'Breach of the card vault', summary: 'Vault keys copied out' });
      h.clock.advance(1_000);
      await rootly(h, ev);
      await h.drain();
      await h.runner.idle();

      const draft = await h.store.getKv<{ markdown: string }>(`postmortem-draft:${incident.id}`);
      assert.match(draft!.markdown, /Breach of the card vault/, 'the draft was written');
      const saved = await h.store.getKv<{ markdown: string }>(`postmortem:${incident.id}`);
      assert.match(saved!.markdown, /Breach of the card vault/, 'and saved to the backend, as before');
      const shown = inChannel(before);
      assert.match(shown, /post-mortem draft for INC-\d+ is ready, and not shown here/);
      assert.match(shown, /this incident is private and this channel is public/);
      assert.doesNotMatch(shown, /card vault|Vault keys|Card payments declined/i, 'no title, description or timeline in the channel');

      // Once someone has made the channel private, `/incident postmortem` posts the draft there.
      [...h.chat.channels.values()].find((c) => c.id === channelId)!.isPrivate = true;
      h.clock.advance(60_000);
      const afterPrivate = mark();
      await runIncidentCommand(h.deps, { kind: 'postmortem' }, { userId: 'U0ALICE01', channelId, triggerId: 'trig-pm' });
      assert.match(inChannel(afterPrivate), /Breach of the card vault/);
    } finally {
      await h.close();
    }
  });

  test("/incident summary in a private incident's public channel: answered to the one who asked only, saying why, and nothing posted in the channel", async () => {
    const h = await buildHarness();
    try {
      const { channelId, inChannel, mark } = await madePrivateInPublicChannel(h);
      const before = mark();
      const answer = await runIncidentCommand(h.deps, { kind: 'summary' }, { userId: 'U0BOB0001', channelId, triggerId: 'trig-sum' });
      assert.equal(inChannel(before), '[[],[]]', 'nothing posted or edited in the channel');
      const text = (answer as { text: string; inChannel?: boolean }).text;
      assert.ok(!(answer as { inChannel?: boolean }).inChannel, 'an ephemeral answer');
      assert.match(text, /Breach of the card vault/, 'the summary itself, for the one who asked');
      assert.match(text, /shown to you only \(not posted in the channel: this incident is private and this channel is public\)/);

      // A private channel gets its summary posted as before.
      [...h.chat.channels.values()].find((c) => c.id === channelId)!.isPrivate = true;
      const afterPrivate = mark();
      assert.equal(await runIncidentCommand(h.deps, { kind: 'summary' }, { userId: 'U0BOB0001', channelId, triggerId: 'trig-sum-2' }), null);
      assert.match(inChannel(afterPrivate), /Breach of the card vault/);
    } finally {
      await h.close();
    }
  });

  test('a stale event (issued before our last change) does not undo it', async () => {
    const h = await buildHarness();
    try {
      await rootly(h, fixture('rootly-incident-created.json'));
      await h.drain();
      const [incident] = await h.store.listOpenIncidents();
      h.clock.advance(30 * 60_000);
      await changeStatus(h.deps, incident!.id, 'mitigated', 'U0ALICE01');
      await h.drain();
      const old = fixture('rootly-incident-mitigated.json');
      old.event = { id: 'evt-old-update', type: 'incident.updated', issued_at: '2026-11-20T10:06:00.000Z' };
      old.data.status = 'started';
      await rootly(h, old);
      await h.drain();
      assert.equal((await h.store.getIncident(incident!.id))!.status, 'mitigated');
    } finally {
      await h.close();
    }
  });
});

describe('incident.io webhooks', () => {
  test('incident_created_v2 announces once; incident_status_updated_v2 (closed) resolves it', async () => {
    const h = await buildHarness();
    try {
      await incidentio(h, fixture('incidentio-incident-created.json'), 'msg_created_1');
      await h.drain();
      const [incident] = await h.store.listOpenIncidents();
      assert.equal(incident!.origin, 'incidentio');
      assert.equal(incident!.severity, 'high'); // "Major"
      assert.equal(incident!.title, 'Login latency degraded in us-east');
      assert.equal(h.chat.announcements().length, 1);
      h.clock.advance(60 * 60_000);
      await incidentio(h, fixture('incidentio-status-updated-closed.json'), 'msg_status_2');
      await h.drain();
      const after = await h.store.getIncident(incident!.id);
      assert.equal(after!.status, 'resolved');
      assert.equal(h.chat.announcements().length, 1);
    } finally {
      await h.close();
    }
  });
});

describe('incident.io private incidents', () => {
  test('a key that may not view private incidents: the event is acknowledged and dropped (logged), nothing announced, no retry loop', async () => {
    const { startFakeIncidentIo } = await import('../fakes/incidentio/fake.js');
    const { createIncidentIoBackend } = await import('../../src/adapters/backend/incidentio/backend.js');
    const blind = await startFakeIncidentIo({ viewPrivate: false });
    const h = await buildHarness({ backend: createIncidentIoBackend({ apiKey: 'incidentio-test-key', baseUrl: blind.url, timeoutMs: 1000 }) });
    try {
      const { incident } = await blind.createInUi({ name: 'Credential stuffing on admin', visibility: 'private' });
      const type = 'private_incident.incident_created_v2';
      const res = await incidentio(h, { event_type: type, [type]: { id: incident.id } }, 'msg_private_1');
      assert.equal(res.status, 202);
      await h.drain();
      assert.equal(blind.calls({ route: 'GET /v2/incidents/{id}' }).length, 1, 'read once, not retried');
      assert.equal((await h.store.listOpenIncidents()).length, 0);
      assert.equal(h.chat.announcements().length, 0);
      const db = (h.store as unknown as { db: any }).db;
      const job = await db.selectFrom('jobs').selectAll().where('kind', '=', 'backend.event').executeTakeFirst();
      assert.equal(job?.state, 'done');
    } finally {
      await h.close();
      await blind.close();
    }
  });
});

describe('incident.io with fewer severities than ours', () => {
  test("incident.io's default three (Critical, Major, Minor): our low and medium both become Minor, and a low incident's own change coming back leaves it low, unannounced", async () => {
    const { startFakeIncidentIo } = await import('../fakes/incidentio/fake.js');
    const { createIncidentIoBackend } = await import('../../src/adapters/backend/incidentio/backend.js');
    const three = await startFakeIncidentIo({ severities: ['Minor', 'Major', 'Critical'] });
    const h = await buildHarness({ backend: createIncidentIoBackend({ apiKey: 'incidentio-test-key', baseUrl: three.url, timeoutMs: 1000 }) });
    try {
      const { incident } = await declareIncident(h.deps, {
        title: 'Thumbnails slow to appear',
        severity: 'low',
        description: '',
        services: [],
        private: false,
        commanderId: 'U0ALICE01',
        declaredBy: 'U0ALICE01',
        origin: 'slack',
        dedupeKey: 'view:V-low',
        channel: 'always',
      });
      await h.drain();
      const backendId = (await h.store.getIncident(incident.id))!.backendId;
      const record = three.incidents().find((x) => x.id === backendId)!;
      assert.equal(three.severities().find((s) => s.id === record.severity_id)?.name, 'Minor');
      h.clock.advance(60_000);
      await changeStatus(h.deps, incident.id, 'mitigated', 'U0ALICE01');
      // Its sync to incident.io (backend.sync, which the harness's drain leaves alone), run here.
      await syncToBackend(h.deps, { incidentId: incident.id, op: 'transition', to: 'mitigated', message: '' });
      assert.equal(three.statuses().find((s) => s.id === record.incident_status_id)?.name, 'Monitoring');
      await h.drain();
      const postsBefore = h.chat.posts.length;
      // incident.io tells the bot of that edit (the incident as GET /v2/incidents/{id} shows it).
      const shown = (await (await fetch(`${three.url}/v2/incidents/${record.id}`, { headers: { authorization: 'Bearer incidentio-test-key' } })).json()) as {
        incident: unknown;
      };
      const type = 'public_incident.incident_updated_v2';
      h.clock.advance(1000);
      await incidentio(h, { event_type: type, [type]: shown.incident }, 'msg_own_edit_low');
      await h.drain();
      const after = (await h.store.getIncident(incident.id))!;
      assert.deepEqual({ severity: after.severity, status: after.status }, { severity: 'low', status: 'mitigated' });
      assert.deepEqual(
        h.chat.posts.slice(postsBefore).map((p) => p.text),
        [],
        'no "Updated in incident.io" note for our own change',
      );
      // A real change there still comes through: Major is our high.
      await three.changeInUi(record.id, { severity: 'Major' });
      const changed = (await (await fetch(`${three.url}/v2/incidents/${record.id}`, { headers: { authorization: 'Bearer incidentio-test-key' } })).json()) as {
        incident: unknown;
      };
      h.clock.advance(1000);
      await incidentio(h, { event_type: type, [type]: changed.incident }, 'msg_their_edit');
      await h.drain();
      assert.equal((await h.store.getIncident(incident.id))!.severity, 'high');
    } finally {
      await h.close();
      await three.close();
    }
  });
});

describe('incident.io: a public incident made private there', () => {
  test('mirrored as private: its new title stays out of the announcement, and agents no longer list it', async () => {
    const { startFakeIncidentIo } = await import('../fakes/incidentio/fake.js');
    const { createIncidentIoBackend } = await import('../../src/adapters/backend/incidentio/backend.js');
    const { listIncidentsForAgent } = await import('../../src/services/agents.js');
    const iio = await startFakeIncidentIo();
    const h = await buildHarness({ backend: createIncidentIoBackend({ apiKey: 'incidentio-test-key', baseUrl: iio.url, timeoutMs: 1000 }) });
    const shown = async (id: string) =>
      ((await (await fetch(`${iio.url}/v2/incidents/${id}`, { headers: { authorization: 'Bearer incidentio-test-key' } })).json()) as { incident: unknown })
        .incident;
    try {
      const { incident: record } = await iio.createInUi({ name: 'Checkout slow', visibility: 'public', severity: 'Major' });
      const created = 'public_incident.incident_created_v2';
      await incidentio(h, { event_type: created, [created]: await shown(record.id) }, 'msg_public_created');
      await h.drain();
      const adopted = (await h.store.findIncidentByBackendId('incidentio', record.id))!;
      assert.equal(adopted.private, false);
      const announceTs = adopted.announceTs!;
      const agentSees = async () =>
        (await listIncidentsForAgent(h.deps, { name: 'claude-code', scopes: ['read'], incidents: null }, { limit: 50 })).incidents.map((i) => i.title);
      assert.deepEqual(await agentSees(), ['Checkout slow']);
      // In incident.io: made private (its channel made private in Slack), then renamed. Its events now carry only the id.
      record.visibility = 'private';
      await iio.changeInUi(record.id, { name: 'Card numbers of 300 customers in debug logs' });
      const updated = 'private_incident.incident_updated_v2';
      h.clock.advance(60_000);
      await incidentio(h, { event_type: updated, [updated]: { id: record.id } }, 'msg_private_updated');
      await h.drain();
      const after = (await h.store.getIncident(adopted.id))!;
      assert.equal(after.private, true);
      const shownInAnnouncement = h.chat.updates.filter((u) => u.ts === announceTs).map((u) => JSON.stringify(u.blocks) + u.text);
      assert.ok(shownInAnnouncement.length > 0, 'the announcement was updated');
      assert.doesNotMatch(shownInAnnouncement.at(-1)!, /card numbers|debug logs/i);
      assert.doesNotMatch(
        JSON.stringify(h.chat.posts.filter((p) => p.channel === h.chat.announcements()[0]!.channel)),
        /card numbers|debug logs/i,
        'nothing of it in the announcement channel',
      );
      assert.deepEqual(await agentSees(), [], 'agents no longer list it');
    } finally {
      await h.close();
      await iio.close();
    }
  });
});

describe('incident.io: a public incident with a channel of ours made private there', () => {
  test('private_incident.incident_updated_v2: the public channel gets the change without the new name, and the commander is told to make it private', async () => {
    const { startFakeIncidentIo } = await import('../fakes/incidentio/fake.js');
    const { createIncidentIoBackend } = await import('../../src/adapters/backend/incidentio/backend.js');
    const iio = await startFakeIncidentIo();
    const h = await buildHarness({ backend: createIncidentIoBackend({ apiKey: 'incidentio-test-key', baseUrl: iio.url, timeoutMs: 1000 }) });
    try {
      const { incident: record } = await iio.createInUi({ name: 'Checkout slow', visibility: 'public', severity: 'Critical' });
      const created = 'public_incident.incident_created_v2';
      const shown = await (await fetch(`${iio.url}/v2/incidents/${record.id}`, { headers: { authorization: 'Bearer incidentio-test-key' } })).json();
      await incidentio(h, { event_type: created, [created]: (shown as { incident: unknown }).incident }, 'msg_public_created_ch');
      await h.drain();
      const adopted = (await h.store.findIncidentByBackendId('incidentio', record.id))!;
      const channelId = adopted.channelId!;
      assert.ok(channelId, 'a channel of ours (critical)');
      await h.store.setRole(adopted.id, 'commander', 'U0ALICE01');
      record.visibility = 'private';
      await iio.changeInUi(record.id, { name: 'Card numbers of 300 customers in debug logs' });
      const updated = 'private_incident.incident_updated_v2';
      h.clock.advance(60_000);
      const seen = h.chat.posts.length;
      const seenUpdates = h.chat.updates.length;
      await incidentio(h, { event_type: updated, [updated]: { id: record.id } }, 'msg_private_updated_ch');
      await h.drain();
      assert.equal((await h.store.getIncident(adopted.id))!.private, true);
      const inChannel = h.chat.posts.slice(seen).filter((p) => p.channel === channelId);
      assert.equal(inChannel.length, 1);
      assert.doesNotMatch(inChannel[0]!.text, /card numbers|debug logs/i);
      assert.match(inChannel[0]!.text, /<@U0ALICE01>.*now \*private\* in incident\.io.*this channel is \*public\*/s);
      const card = JSON.stringify(h.chat.updates.slice(seenUpdates).filter((u) => u.channel === channelId));
      assert.match(card, /private incident/, 'the card was refreshed');
      assert.doesNotMatch(card, /card numbers|debug logs/i);
    } finally {
      await h.close();
      await iio.close();
    }
  });
});

describe('incident.io events: looked up only when they concern an incident the bot mirrors', () => {
  test('the echo of our own declare, and an update to an incident the bot never knew, cost no GET /v2/incidents/{id}', async () => {
    const { startFakeIncidentIo } = await import('../fakes/incidentio/fake.js');
    const { createIncidentIoBackend } = await import('../../src/adapters/backend/incidentio/backend.js');
    const iio = await startFakeIncidentIo();
    const h = await buildHarness({ backend: createIncidentIoBackend({ apiKey: 'incidentio-test-key', baseUrl: iio.url, timeoutMs: 1000 }) });
    const lookups = () => iio.calls({ route: 'GET /v2/incidents/{id}' }).length;
    try {
      const { incident } = await declareIncident(h.deps, {
        title: 'Search index stale',
        severity: 'high',
        description: '',
        services: [],
        private: false,
        commanderId: 'U0ALICE01',
        declaredBy: 'U0ALICE01',
        origin: 'slack',
        dedupeKey: 'view:V-echo',
        channel: 'always',
      });
      await h.drain();
      const record = iio.incidents().find((x) => x.id === incident.id || x.idempotency_key === incident.id)!;
      const before = lookups();
      const created = 'public_incident.incident_created_v2';
      // incident.io's webhook for the incident the bot just created (the payload as incident.io shows it).
      await incidentio(
        h,
        { event_type: created, [created]: { id: record.id, name: record.name, incident_status: { category: 'live', name: 'Investigating' } } },
        'msg_own_create',
      );
      const other = await iio.createInUi({ name: 'Created before the bot was installed', visibility: 'public' });
      const updated = 'public_incident.incident_updated_v2';
      await incidentio(
        h,
        { event_type: updated, [updated]: { id: other.incident.id, name: 'Renamed', incident_status: { category: 'live', name: 'Investigating' } } },
        'msg_unknown_update',
      );
      await incidentio(
        h,
        { event_type: 'private_incident.incident_updated_v2', 'private_incident.incident_updated_v2': { id: other.incident.id } },
        'msg_unknown_private',
      );
      await h.drain();
      assert.equal(lookups() - before, 0);
      assert.equal(h.chat.announcements().length, 1, 'announced once, by the declare');
    } finally {
      await h.close();
      await iio.close();
    }
  });
});

describe('backend incidents that are not live (vendor modes and kinds)', () => {
  test('incident.io: a retrospective, test or tutorial incident created there is acknowledged and not announced', async () => {
    const h = await buildHarness();
    try {
      for (const mode of ['retrospective', 'test', 'tutorial']) {
        const payload = fixture('incidentio-incident-created.json');
        const inc = payload['public_incident.incident_created_v2'];
        inc.mode = mode;
        inc.id = `01JD4X8ZQ5N1C2RV0K7W3M9T6${mode.length}`;
        const res = await incidentio(h, payload, `msg_${mode}`);
        assert.equal(res.status, 200, `${mode}: ${JSON.stringify(res.body)}`);
      }
      await h.drain();
      assert.equal((await h.store.listOpenIncidents()).length, 0);
      assert.equal(h.chat.announcements().length, 0);
    } finally {
      await h.close();
    }
  });

  test('incident.io: a private retrospective incident (its event names only the id) is read, then not announced', async () => {
    const { startFakeIncidentIo } = await import('../fakes/incidentio/fake.js');
    const { createIncidentIoBackend } = await import('../../src/adapters/backend/incidentio/backend.js');
    const iio = await startFakeIncidentIo();
    const h = await buildHarness({ backend: createIncidentIoBackend({ apiKey: 'incidentio-test-key', baseUrl: iio.url, timeoutMs: 1000 }) });
    try {
      const { incident } = await iio.createInUi({ name: 'Backfilled: token leak last week', visibility: 'private', mode: 'retrospective' });
      const type = 'private_incident.incident_created_v2';
      assert.equal((await incidentio(h, { event_type: type, [type]: { id: incident.id } }, 'msg_private_retro')).status, 202);
      await h.drain();
      assert.equal(iio.calls({ route: 'GET /v2/incidents/{id}' }).length, 1);
      assert.equal((await h.store.listOpenIncidents()).length, 0);
      assert.equal(h.chat.announcements().length, 0);
      // A standard private incident is still announced (without its details).
      const live = await iio.createInUi({ name: 'Credential stuffing on admin', visibility: 'private' });
      await incidentio(h, { event_type: type, [type]: { id: live.incident.id } }, 'msg_private_live');
      await h.drain();
      assert.equal((await h.store.listOpenIncidents()).length, 1);
      assert.equal(h.chat.announcements().length, 1);
    } finally {
      await h.close();
      await iio.close();
    }
  });

  test('Rootly: a test, example or backfilled incident.created is acknowledged and not announced', async () => {
    const h = await buildHarness();
    try {
      for (const kind of ['test', 'example', 'backfilled']) {
        const payload = fixture('rootly-incident-created.json');
        payload.event.id = `evt-${kind}`;
        payload.data.kind = kind;
        payload.data.id = `rootly-${kind}`;
        const res = await rootly(h, payload);
        assert.equal(res.status, 200, `${kind}: ${JSON.stringify(res.body)}`);
      }
      await h.drain();
      assert.equal((await h.store.listOpenIncidents()).length, 0);
      assert.equal(h.chat.announcements().length, 0);
    } finally {
      await h.close();
    }
  });
});

describe('Rootly severity shapes', () => {
  test('a severity shown as the REST API does ({data:{attributes}}) is read, not defaulted to medium', async () => {
    const h = await buildHarness();
    try {
      const payload = fixture('rootly-incident-created.json');
      payload.data.severity = { data: { id: 'sev-uuid-0', type: 'severities', attributes: { name: 'SEV0', slug: 'sev0', severity: 'critical' } } };
      await rootly(h, payload);
      await h.drain();
      const [incident] = await h.store.listOpenIncidents();
      assert.equal(incident!.severity, 'critical');
    } finally {
      await h.close();
    }
  });
});
