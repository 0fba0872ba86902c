import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { afterAcks, noteArrival } from '../../src/slack/ack.js';

// Work after an early ack waits while a burst of Slack requests is still arriving, so each of them
// is acked before someone's work takes the loop; a lone request's work starts in its ack's turn.
test('afterAcks: a lone request works in its own turn; while requests keep arriving the work waits, then runs one item per turn', async () => {
  const ran: string[] = [];
  noteArrival();
  afterAcks(() => ran.push('lone'));
  await turn();
  assert.deepEqual(ran, ['lone'], 'a lone request is not held back');

  noteArrival();
  afterAcks(() => ran.push('a'));
  noteArrival(); // another request of the burst arrives in the same turn
  afterAcks(() => ran.push('b'));
  await turn();
  assert.deepEqual(ran, ['lone'], 'nothing starts in a turn that saw a new request');
  noteArrival(); // the burst goes on
  await turn();
  assert.deepEqual(ran, ['lone']);
  await turn(); // a quiet turn
  await turn();
  assert.deepEqual(ran.slice(1, 2), ['a'], 'then the oldest first');
  await turn();
  await turn();
  assert.deepEqual(ran, ['lone', 'a', 'b'], 'one item per turn');
});

test('afterAcks: a steady stream of requests holds the work back for at most about 20 ms', async () => {
  let done = false;
  const started = performance.now();
  afterAcks(() => (done = true));
  while (!done && performance.now() - started < 1000) {
    noteArrival();
    await turn();
  }
  const waited = performance.now() - started;
  assert.ok(done, 'the work ran although requests never stopped');
  assert.ok(waited >= 20 && waited < 200, `waited ${waited.toFixed(1)} ms`);
});
