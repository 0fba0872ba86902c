import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeAnthropic, type FakeAnthropic } from './server.js';

/** The fake must behave like the API where our adapter depends on it; these pin that down. */
describe('fake Anthropic Messages API', () => {
  let fake: FakeAnthropic;
  before(async () => {
    fake = await startFakeAnthropic({ minCacheableTokens: 5 });
  });
  after(async () => {
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${fake.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01', ...headers },
      body: JSON.stringify(body),
    });
  const ok = { model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'Title: Disk full\nhello' }] };

  test('auth: missing or wrong key → 401 authentication_error with a request id', async () => {
    const res = await post(ok, { 'x-api-key': 'sk-ant-nope' });
    assert.equal(res.status, 401);
    const body = (await res.json()) as { type: string; error: { type: string }; request_id: string };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'authentication_error');
    assert.equal(res.headers.get('request-id'), body.request_id);
    const none = await fetch(`${fake.url}/v1/messages`, { method: 'POST', headers: { 'anthropic-version': '2023-06-01' }, body: JSON.stringify(ok) });
    assert.equal(none.status, 401);
  });

  const invalid: [string, Record<string, unknown>, RegExp][] = [
    ['max_tokens 0', { ...ok, max_tokens: 0 }, /max_tokens/],
    ['first message from assistant', { ...ok, messages: [{ role: 'assistant', content: 'x' }] }, /first message must use the "user" role/],
    [
      'roles not alternating',
      {
        ...ok,
        messages: [
          { role: 'user', content: 'a' },
          { role: 'user', content: 'b' },
        ],
      },
      /alternate/,
    ],
    ['empty messages', { ...ok, messages: [] }, /messages/],
    ['cache_control not ephemeral', { ...ok, system: [{ type: 'text', text: 's', cache_control: { type: 'permanent' } }] }, /system/],
    [
      'five cache breakpoints',
      { ...ok, system: Array.from({ length: 5 }, (_, i) => ({ type: 'text', text: `s${i}`, cache_control: { type: 'ephemeral' } })) },
      /maximum of 4 blocks with cache_control/,
    ],
    ['tool without input_schema', { ...ok, tools: [{ name: 'x' }] }, /input_schema/],
    ['tool_choice without tools', { ...ok, tool_choice: { type: 'auto' } }, /tool_choice may only be specified while providing tools/],
    ['unknown field', { ...ok, foo: 1 }, /foo|Unrecognized/i],
  ];
  for (const [name, body, message] of invalid) {
    test(`400 invalid_request_error: ${name}`, async () => {
      const res = await post(body);
      assert.equal(res.status, 400);
      const json = (await res.json()) as { error: { type: string; message: string } };
      assert.equal(json.error.type, 'invalid_request_error');
      assert.match(json.error.message, message);
    });
  }

  test('missing anthropic-version → 400', async () => {
    const res = await fetch(`${fake.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'sk-ant-test' }, body: JSON.stringify(ok) });
    assert.equal(res.status, 400);
  });

  test('SSE framing: event/data pairs in the API order, text deltas add up to the message', async () => {
    fake.enqueue({ text: 'The disk on db-1 filled up at 14:02.' });
    const res = await post({ ...ok, stream: true });
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const raw = await res.text();
    const frames = raw
      .split('\n\n')
      .filter(Boolean)
      .map((f) => {
        const [ev, data] = f.split('\n');
        return { event: ev!.replace(/^event: /, ''), data: JSON.parse(data!.replace(/^data: /, '')) as Record<string, unknown> };
      });
    const events = frames.map((f) => f.event);
    assert.deepEqual(events.slice(0, 3), ['message_start', 'content_block_start', 'ping']);
    assert.deepEqual(events.slice(-4), ['content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    for (const f of frames) assert.equal(f.data.type, f.event);
    const text = frames
      .filter((f) => f.event === 'content_block_delta')
      .map((f) => (f.data.delta as { text: string }).text)
      .join('');
    assert.equal(text, 'The disk on db-1 filled up at 14:02.');
  });

  test('caching: the same cached prefix is written once, then read; uncached tail counts as input', async () => {
    const sys = [{ type: 'text', text: 'stable system prompt, long enough', cache_control: { type: 'ephemeral' } }];
    await post({ ...ok, system: sys });
    await post({ ...ok, system: sys, messages: [{ role: 'user', content: 'something else entirely' }] });
    const [a, b] = fake.messageRequests;
    assert.equal(a!.usage!.cache_read_input_tokens, 0);
    assert.ok(a!.usage!.cache_creation_input_tokens > 0);
    assert.equal(b!.usage!.cache_read_input_tokens, a!.usage!.cache_creation_input_tokens);
    assert.equal(b!.usage!.cache_creation_input_tokens, 0);
    assert.equal(b!.usage!.input_tokens, Math.ceil('something else entirely'.length / 4));
    assert.equal(fake.totals().requests, 2);
  });

  test('faults: injected 429 carries retry-after and is consumed per request', async () => {
    fake.inject({ status: 429, retryAfter: 7, times: 1 });
    const first = await post(ok);
    assert.equal(first.status, 429);
    assert.equal(first.headers.get('retry-after'), '7');
    assert.equal(((await first.json()) as { error: { type: string } }).error.type, 'rate_limit_error');
    assert.equal((await post(ok)).status, 200);
  });

  test('an unknown or retired model → 404 not_found_error "model: <id>", as the API answers', async () => {
    for (const model of ['claude-sonnet-4-5', 'claude-nonexistent']) {
      const res = await post({ ...ok, model });
      assert.equal(res.status, 404);
      const body = (await res.json()) as { type: string; error: { type: string; message: string } };
      assert.deepEqual(body.error, { type: 'not_found_error', message: `model: ${model}` });
    }
  });

  test('caching: a prefix below the model minimum is neither written nor read (Sonnet 1,024, Haiku 4.5 4,096 tokens)', async () => {
    const own = await startFakeAnthropic();
    try {
      const send = (model: string, chars: number) =>
        fetch(`${own.url}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01' },
          body: JSON.stringify({ ...ok, model, system: [{ type: 'text', text: 'x'.repeat(chars), cache_control: { type: 'ephemeral' } }] }),
        });
      // ~1,100 tokens: cached on Sonnet 5.5, not on Haiku 4.5.
      for (let i = 0; i < 2; i++) await send('claude-sonnet-5-5', 4400);
      for (let i = 0; i < 2; i++) await send('claude-haiku-4-5', 4400);
      const [s1, s2, h1, h2] = own.messageRequests;
      assert.ok(s1!.usage!.cache_creation_input_tokens > 0);
      assert.ok(s2!.usage!.cache_read_input_tokens > 0);
      assert.equal(h1!.usage!.cache_creation_input_tokens, 0);
      assert.equal(h2!.usage!.cache_read_input_tokens, 0);
    } finally {
      await own.close();
    }
  });

  test('GET /v1/models lists models', async () => {
    const res = await fetch(`${fake.url}/v1/models`, { headers: { 'x-api-key': 'sk-ant-test' } });
    const body = (await res.json()) as { data: { id: string }[] };
    assert.ok(body.data.some((m) => m.id === 'claude-sonnet-5-5'));
  });
});
