import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpecMissingError, loadSpecValidator, specPath, specsRequired } from './openapi.js';
import { startFakeRootly } from '../rootly/fake.js';
import { startFakeIncidentIo } from '../incidentio/fake.js';

const empty = () => mkdtempSync(join(tmpdir(), 'fb-specs-'));

test('CI=true makes the vendor specs required; elsewhere they are optional', () => {
  assert.equal(specsRequired({ CI: 'true' }), true);
  assert.equal(specsRequired({}), false);
});

test('a missing spec is an error when required (CI), not a silent switch-off', () => {
  assert.throws(() => loadSpecValidator('rootly-openapi.json', { dir: empty(), required: true }), SpecMissingError);
  // Outside CI: no validator, and the fake reports it (below); the loader says so on stderr.
  assert.equal(loadSpecValidator('rootly-openapi.json', { dir: empty(), required: false }), null);
});

test('each spec-validating fake reports whether it validated', async (t) => {
  const rootly = await startFakeRootly();
  const incidentio = await startFakeIncidentIo();
  try {
    const present = { rootly: existsSync(specPath('rootly-openapi.json')), incidentio: existsSync(specPath('incidentio-openapi.json')) };
    t.diagnostic(`spec validation: rootly ${rootly.specValidationActive ? 'ON' : 'OFF'}, incident.io ${incidentio.specValidationActive ? 'ON' : 'OFF'}`);
    assert.equal(rootly.specValidationActive, present.rootly);
    assert.equal(incidentio.specValidationActive, present.incidentio);
    if (specsRequired()) assert.ok(rootly.specValidationActive && incidentio.specValidationActive, 'CI=true: both fakes must validate against the specs');
  } finally {
    await rootly.close();
    await incidentio.close();
  }
});
