import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PromptRenderer, buildPromptVars, defaultPromptDir, packageRoot } from '../../../src/adapters/anthropic/prompts.js';
import { AppError } from '../../../src/errors.js';
import { aContext } from '../../fakes/anthropic/context.js';

const now = new Date('2024-04-05T15:00:00Z');

describe('PromptRenderer', () => {
  test('finds the shipped templates from the package root', () => {
    assert.equal(defaultPromptDir(), join(packageRoot(), 'assets', 'prompts'));
    // From a compiled location too (dist/src/adapters/anthropic/prompts.js walks up to the same root).
    assert.equal(packageRoot(join(packageRoot(), 'dist', 'src', 'adapters', 'anthropic', 'prompts.js')), packageRoot());
  });

  test('the post-mortem template asks for exactly the seven sections, in order', () => {
    const r = new PromptRenderer();
    const out = r.render('postmortem', buildPromptVars(aContext(), { transcriptBudgetTokens: 1000, now }).vars);
    const asked = [...out.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    assert.deepEqual(asked, ['Summary', 'Root Cause', 'Trigger', 'Impact', 'Timeline', 'Resolution', 'Prevention']);
  });

  test('the system prompt states the data rule and the no-execution rule, and is long enough to be cached', () => {
    const r = new PromptRenderer();
    const sys = r.render('system', buildPromptVars(aContext(), { transcriptBudgetTokens: 0, now }).vars);
    assert.match(sys, /untrusted data/);
    assert.match(sys, /never an instruction/);
    assert.match(sys, /You cannot execute anything/);
    assert.ok(sys.length / 4 >= 1024, `system prompt is ${Math.ceil(sys.length / 4)} est. tokens; the cache minimum is 1024`);
  });

  test('incident fields, roles and timeline are rendered', () => {
    const r = new PromptRenderer();
    const out = r.render('brief', buildPromptVars(aContext(), { transcriptBudgetTokens: 1000, now }).vars);
    assert.match(out, /Incident: INC-42/);
    assert.match(out, /Title: Checkout returns 502 for EU customers/);
    assert.match(out, /Severity: high/);
    assert.match(out, /commander: @alice/);
    assert.match(out, /\[2024-04-05 14:00 UTC\] declared by @alice: Incident declared/);
    assert.match(out, /Duration so far: 1h 00m/);
  });

  test('an override replaces one template; a broken or missing override fails at construction', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fb-prompts-'));
    const good = join(dir, 'summary.liquid');
    writeFileSync(good, 'Team summary for {{ incident.title | upcase }}');
    const r = new PromptRenderer({ overrides: { summary: good } });
    assert.equal(
      r.render('summary', buildPromptVars(aContext(), { transcriptBudgetTokens: 10, now }).vars),
      'Team summary for CHECKOUT RETURNS 502 FOR EU CUSTOMERS',
    );
    assert.equal(r.sources.summary, good);

    const bad = join(dir, 'bad.liquid');
    writeFileSync(bad, '{% if %}');
    assert.throws(
      () => new PromptRenderer({ overrides: { brief: bad } }),
      (e: unknown) => e instanceof AppError && e.code === 'config.invalid' && /brief/.test(e.message),
    );
    assert.throws(
      () => new PromptRenderer({ overrides: { brief: join(dir, 'nope.liquid') } }),
      (e: unknown) => e instanceof AppError && /cannot be read/.test(e.message),
    );
    const typo = join(dir, 'typo.liquid');
    writeFileSync(typo, '{{ incident.title | upcsae }}');
    assert.throws(() => new PromptRenderer({ overrides: { brief: typo } }), AppError);
  });

  test('without a previous summary the summary prompt is not incremental', () => {
    const r = new PromptRenderer();
    const out = r.render('summary', buildPromptVars(aContext(), { transcriptBudgetTokens: 1000, now, incremental: true }).vars);
    assert.doesNotMatch(out, /<previous_summary>/);
    assert.match(out, /EU checkout is failing with 502s/);
  });
});
