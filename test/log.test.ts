import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../src/log.js';

test('tokens, signing secrets, API keys and Authorization headers never reach a log line', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(c, _e, cb) {
      lines.push(c.toString());
      cb();
    },
  });
  const botToken = 'xoxb-1111111111-2222222222-abcdefABCDEF';
  const signingSecret = 'f00dfacecafe8badf00d1234';
  const logger = createLogger({ level: 'debug', secrets: [botToken, signingSecret], destination: sink, pretty: false });
  logger.info({ config: { env: { SLACK_BOT_TOKEN: botToken, SLACK_SIGNING_SECRET: signingSecret } } }, 'config loaded');
  logger.info({ headers: { authorization: `Bearer ${botToken}` } }, 'outgoing call');
  logger.error({ err: new Error(`request with ${signingSecret} failed`) }, 'boom');
  logger.warn(`free text mentioning ${botToken} and sk-ant-api03-abcdefghijklmnop`);
  await new Promise((r) => setImmediate(r));
  const all = lines.join('');
  assert.equal(lines.length, 4);
  assert.ok(!all.includes(botToken));
  assert.ok(!all.includes(signingSecret));
  assert.ok(!all.includes('sk-ant-api03-abcdefghijklmnop'));
  assert.ok(all.includes('[Redacted]'));
  assert.ok(all.includes('config loaded'));
});

test('a log line has one msg key, even when the logged fields include a msg', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(c, _e, cb) {
      lines.push(c.toString());
      cb();
    },
  });
  const logger = createLogger({ level: 'info', destination: sink, pretty: false });
  logger.info({ code: 'not_commander', msg: 'Only the commander can approve' }, 'request refused');
  logger.child({ component: 'x' }).warn({ msg: 'inner' }, 'outer');
  logger.info({ a: 1 }, 'plain');
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 3);
  for (const line of lines) assert.equal(line.match(/"msg":/g)?.length, 1, line);
  const first = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(first.msg, 'request refused');
  assert.equal(first.detail, 'Only the commander can approve');
  assert.equal((JSON.parse(lines[1]!) as Record<string, unknown>).msg, 'outer');
});
