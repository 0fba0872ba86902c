import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namedId } from '../../src/domain/named-id.js';

test('namedId: the same name gives the same UUID-shaped id, another name another one, and stored ids stay derivable', () => {
  const id = namedId('runbook-step-approval:run-1:2:0');
  assert.equal(id, namedId('runbook-step-approval:run-1:2:0'));
  assert.notEqual(id, namedId('runbook-step-approval:run-1:2:1'));
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  // Approvals already stored under ids derived this way must be found again after an upgrade.
  assert.equal(id, '904b4008-9b83-5ee2-a20b-f22fc98ce8a7');
});
