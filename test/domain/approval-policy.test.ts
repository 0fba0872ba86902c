import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionSchema, DEFAULT_ACTIONS, PolicySchema, type ActionDefinition } from '../../src/domain/actions.js';
import {
  actionJsonSchema,
  canApprove,
  tallyVotes,
  effectivePolicy,
  expiryFor,
  isExpired,
  mayAssignRole,
  protectedRoles,
  snapshotApprovers,
  validateParams,
} from '../../src/domain/approval-policy.js';

/** Declarations as a team writes them in firebreak.yml (defaults filled in by the schema). */
const action = (over: { params: Record<string, Record<string, unknown>> }): ActionDefinition =>
  ActionSchema.parse({ id: 'test_action', title: 'Test', requires_approval: true, ...over });

const rollback = DEFAULT_ACTIONS.find((a) => a.id === 'rollback_deployment')!;
const scale = DEFAULT_ACTIONS.find((a) => a.id === 'scale_infrastructure')!;
const policy = (over: Record<string, unknown> = {}) => PolicySchema.parse(over);

describe('validateParams', () => {
  it('accepts the slash command strings and keeps them as strings', () => {
    assert.deepEqual(validateParams(rollback, { service: 'api', version: 'v41' }), { ok: true, value: { service: 'api', version: 'v41' } });
  });

  it('names a missing required parameter', () => {
    assert.deepEqual(validateParams(rollback, { service: 'api' }), { ok: false, problems: ['missing required parameter `version`'] });
    assert.deepEqual(validateParams(rollback, { service: 'api', version: '  ' }), { ok: false, problems: ['missing required parameter `version`'] });
  });

  it('coerces integers from text and refuses non-integers', () => {
    assert.deepEqual(validateParams(scale, { service: 'api', replicas: '12' }), { ok: true, value: { service: 'api', replicas: 12 } });
    assert.deepEqual(validateParams(scale, { service: 'api', replicas: 'lots' }), { ok: false, problems: ['`replicas` must be an integer'] });
    assert.deepEqual(validateParams(scale, { service: 'api', replicas: '2.5' }), { ok: false, problems: ['`replicas` must be an integer'] });
    assert.deepEqual(validateParams(scale, { service: 'api', replicas: 3 }), { ok: true, value: { service: 'api', replicas: 3 } });
  });

  it('enforces min and max', () => {
    assert.deepEqual(validateParams(scale, { service: 'api', replicas: '501' }), { ok: false, problems: ['`replicas` must be at most 500'] });
    assert.deepEqual(validateParams(scale, { service: 'api', replicas: '-1' }), { ok: false, problems: ['`replicas` must be at least 0'] });
  });

  it('rejects unknown parameters, after the declared ones, and reports every problem', () => {
    assert.deepEqual(validateParams(rollback, { service: 'api', foo: '1', bar: 'x' }), {
      ok: false,
      problems: ['missing required parameter `version`', 'unknown parameter `foo`', 'unknown parameter `bar`'],
    });
    assert.deepEqual(validateParams(rollback, { service: 'api', version: 'v1', __proto__x: '1' }).ok, false);
  });

  it('checks enums, patterns, numbers and booleans', () => {
    const a = action({
      params: {
        env: { type: 'string', required: true, enum: ['prod', 'staging'] },
        version: { type: 'string', pattern: '^v\\d+$' },
        ratio: { type: 'number', min: 0, max: 1 },
        force: { type: 'boolean' },
      },
    });
    assert.deepEqual(validateParams(a, { env: 'prod', version: 'v3', ratio: '0.5', force: 'yes' }), {
      ok: true,
      value: { env: 'prod', version: 'v3', ratio: 0.5, force: true },
    });
    assert.deepEqual(validateParams(a, { env: 'dev', version: '3', ratio: 'half', force: 'maybe' }), {
      ok: false,
      problems: ['`env` must be one of: prod, staging', '`version` must match `^v\\d+$`', '`ratio` must be a number', '`force` must be true or false'],
    });
    assert.deepEqual(validateParams(a, { env: 'prod', force: false }), { ok: true, value: { env: 'prod', force: false } });
    assert.deepEqual(validateParams(a, { env: 'prod', ratio: '1e400' }), { ok: false, problems: ['`ratio` must be a number'] });
  });

  it('optional parameters may be left out', () => {
    const a = action({ params: { note: { type: 'string' } } });
    assert.deepEqual(validateParams(a, {}), { ok: true, value: {} });
  });
});

describe('action declarations', () => {
  it('refuses a parameter schema that contradicts itself', () => {
    const bad = ActionSchema.safeParse({ id: 'x_y', title: 'X', requires_approval: true, params: { n: { type: 'integer', min: 5, max: 1, enum: ['a'] } } });
    assert.equal(bad.success, false);
    const messages = bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    assert.ok(messages.includes('params.n.min: min (5) is greater than max (1)'), messages.join('\n'));
    assert.ok(messages.includes('params.n.enum: allowed value "a" is not of type integer'), messages.join('\n'));
  });

  it('exports a JSON schema for Claude that refuses extra keys', () => {
    assert.deepEqual(actionJsonSchema(scale), {
      type: 'object',
      properties: {
        service: { type: 'string', description: 'Service to scale', maxLength: 200 },
        replicas: { type: 'integer', description: 'Target replica count', minimum: 0, maximum: 500 },
      },
      required: ['service', 'replicas'],
      additionalProperties: false,
    });
  });
});

describe('canApprove (against the approvers fixed at proposal time)', () => {
  const p = policy({ roles: ['commander'], usergroups: ['S1'], users: ['UONE'] });
  const snap = (roles: Record<string, string> = { commander: 'UCMD' }, pol = p) => snapshotApprovers(pol, roles, { S1: ['UGRP'] });
  const base = { proposerId: 'UPROP', approvers: snap() };

  it('allows the role holder, a group member and a named user', () => {
    for (const userId of ['UCMD', 'UGRP', 'UONE']) assert.deepEqual(canApprove({ ...base, policy: p, userId }), { ok: true }, userId);
  });

  it('refuses anyone else', () => {
    assert.deepEqual(canApprove({ ...base, policy: p, userId: 'UOTHER' }), { ok: false, reason: 'not_allowed' });
  });

  it('refuses self-approval even for the commander, unless the policy allows it', () => {
    const self = { ...base, proposerId: 'UCMD', policy: p, userId: 'UCMD' };
    assert.equal((canApprove(self) as { reason: string }).reason, 'self_approval');
    const lax = policy({ roles: ['commander'], allow_self_approval: true });
    assert.deepEqual(canApprove({ ...self, policy: lax, approvers: snap({ commander: 'UCMD' }, lax) }), { ok: true });
  });

  it('a role taken after the proposal grants nothing: only the holder at proposal time counts', () => {
    const atProposal = snap({ commander: 'UCMD' });
    assert.equal(canApprove({ proposerId: 'UPROP', approvers: atProposal, policy: p, userId: 'UNEWCMD' }).ok, false);
  });

  it('group membership counts only when the policy names a group', () => {
    const none = policy({ roles: [] });
    assert.equal(canApprove({ ...base, policy: none, approvers: snapshotApprovers(none, {}, { S1: ['UGRP'] }), userId: 'UGRP' }).ok, false);
  });

  it('an unassigned role admits nobody, and says that nobody can approve', () => {
    const d = policy();
    const r = canApprove({ proposerId: 'UPROP', approvers: snapshotApprovers(d, {}, {}), policy: d, userId: 'UCMD' });
    assert.deepEqual(r, { ok: false, reason: 'nobody' });
  });
});

describe('snapshotApprovers: the commander role approves only for someone eligible for command', () => {
  const p = policy({ roles: ['commander'], usergroups: ['S1'] });
  const groups = { S1: ['UGRP'] };

  it('an ineligible commander is recorded, approves nothing through the role, and nobody else means nobody', () => {
    const snap = snapshotApprovers(policy({ roles: ['commander'] }), { commander: 'UDAVE' }, {}, { configured: true, ineligibleHolders: ['UDAVE'] });
    assert.deepEqual(snap.roles, { commander: null });
    assert.deepEqual(snap.ineligible, { commander: 'UDAVE' });
    assert.deepEqual(canApprove({ policy: policy({ roles: ['commander'] }), userId: 'UDAVE', proposerId: 'agent:x', approvers: snap }), {
      ok: false,
      reason: 'nobody',
    });
  });

  it('the rest of the policy still counts, for them too (a group they are in)', () => {
    const snap = snapshotApprovers(p, { commander: 'UGRP' }, groups, { configured: true, ineligibleHolders: ['UGRP'] });
    assert.equal(canApprove({ policy: p, userId: 'UGRP', proposerId: 'agent:x', approvers: snap }).ok, true);
  });

  it('an eligible commander, or no eligibility configured, approves as before', () => {
    for (const e of [{ configured: true, ineligibleHolders: [] }, { configured: false, ineligibleHolders: ['UCMD'] }, undefined]) {
      const snap = snapshotApprovers(p, { commander: 'UCMD' }, groups, e);
      assert.equal(snap.ineligible, undefined);
      assert.equal(canApprove({ policy: p, userId: 'UCMD', proposerId: 'agent:x', approvers: snap }).ok, true, JSON.stringify(e));
    }
  });

  it('a policy that does not name the commander is unaffected', () => {
    const snap = snapshotApprovers(
      policy({ roles: ['ops_lead'] }),
      { commander: 'UDAVE', ops_lead: 'UOPS' },
      {},
      { configured: true, ineligibleHolders: ['UDAVE'] },
    );
    assert.deepEqual(snap.roles, { ops_lead: 'UOPS' });
    assert.equal(snap.ineligible, undefined);
  });
});

describe('snapshotApprovers: a guarded role approves only for an eligible holder', () => {
  const p = policy({ roles: ['ops_lead'] });

  it('an ineligible ops_lead (e.g. given the role by an ineligible commander) approves nothing through it', () => {
    const snap = snapshotApprovers(p, { commander: 'UDAVE', ops_lead: 'UDAVE' }, {}, { configured: true, ineligibleHolders: ['UDAVE'] });
    assert.deepEqual(snap.roles, { ops_lead: null });
    assert.deepEqual(snap.ineligible, { ops_lead: 'UDAVE' });
    assert.deepEqual(canApprove({ policy: p, userId: 'UDAVE', proposerId: 'agent:x', approvers: snap }), { ok: false, reason: 'nobody' });
  });

  it('an eligible holder, or no eligibility configured, approves as before', () => {
    for (const e of [{ configured: true, ineligibleHolders: [] }, { configured: false, ineligibleHolders: ['UOPS'] }, undefined]) {
      const snap = snapshotApprovers(p, { ops_lead: 'UOPS' }, {}, e);
      assert.equal(canApprove({ policy: p, userId: 'UOPS', proposerId: 'agent:x', approvers: snap }).ok, true, JSON.stringify(e));
    }
  });
});

describe('mayAssignRole: approval authority is given, never taken', () => {
  const guarded = protectedRoles([policy({ roles: ['commander', 'ops_lead'] })]);
  const base = {
    protectedRoles: guarded,
    roles: { commander: 'UCMD' },
    declaredBy: 'UDECL',
    isPolicyApprover: false,
    isEligibleCommander: false,
    eligibilityConfigured: false,
    commanderEligible: false,
  };

  it('anyone may hand out a role no policy names', () => {
    assert.equal(mayAssignRole({ ...base, role: 'scribe', actorId: 'URANDOM' }).ok, true);
  });

  it('the commander, a guarded-role holder and a policy approver may assign commander', () => {
    assert.equal(mayAssignRole({ ...base, role: 'commander', actorId: 'UCMD' }).ok, true);
    assert.equal(mayAssignRole({ ...base, role: 'commander', actorId: 'UOPS', roles: { commander: 'UCMD', ops_lead: 'UOPS' } }).ok, true);
    assert.equal(mayAssignRole({ ...base, role: 'ops_lead', actorId: 'ULEAD', isPolicyApprover: true }).ok, true);
  });

  it('anyone else is refused, even the declarer once a commander exists, naming the commander', () => {
    for (const actorId of ['URANDOM', 'UDECL']) {
      assert.deepEqual(mayAssignRole({ ...base, role: 'commander', actorId }), { ok: false, only: 'commander', holder: 'UCMD' }, actorId);
    }
  });

  it('with no commander: the declarer may; for an incident nobody declared, only someone eligible', () => {
    const noCmd = { ...base, roles: {} };
    assert.equal(mayAssignRole({ ...noCmd, role: 'commander', actorId: 'UDECL' }).ok, true);
    assert.equal(
      mayAssignRole({ ...noCmd, role: 'commander', actorId: 'URANDOM', isEligibleCommander: true }).ok,
      false,
      'eligibility is for incidents nobody declared',
    );
    const alert = { ...noCmd, declaredBy: null };
    assert.deepEqual(mayAssignRole({ ...alert, role: 'commander', actorId: 'URANDOM' }), { ok: false, only: 'eligible' });
    assert.deepEqual(mayAssignRole({ ...noCmd, role: 'commander', actorId: 'URANDOM' }), { ok: false, only: 'declarer', holder: 'UDECL' });
    assert.equal(mayAssignRole({ ...alert, role: 'commander', actorId: 'UELIG', isEligibleCommander: true }).ok, true);
  });
});

describe('mayAssignRole when eligibility for command is configured: an ineligible commander hands out no approval power', () => {
  const guarded = protectedRoles([policy({ roles: ['commander', 'ops_lead'] })]);
  // dave declared (so commands) but is not eligible; carol is eligible (a responder).
  const dave = {
    protectedRoles: guarded,
    roles: { commander: 'UDAVE' },
    declaredBy: 'UDAVE',
    isPolicyApprover: false,
    isEligibleCommander: false,
    eligibilityConfigured: true,
    commanderEligible: false,
  };

  it('the ineligible commander may not give a guarded role, to themselves or anyone; the refusal names why', () => {
    for (const role of ['ops_lead', 'commander'])
      assert.deepEqual(mayAssignRole({ ...dave, role, actorId: 'UDAVE' }), { ok: false, only: 'eligible', ineligibleCommander: 'UDAVE' }, role);
    // nor an ineligible ops_lead they made
    assert.equal(mayAssignRole({ ...dave, roles: { commander: 'UDAVE', ops_lead: 'UEVE' }, role: 'ops_lead', actorId: 'UEVE' }).ok, false);
    // unguarded roles stay open
    assert.equal(mayAssignRole({ ...dave, role: 'scribe', actorId: 'UDAVE' }).ok, true);
  });

  it('while no eligible person commands, anyone eligible may take command or give a guarded role; a policy approver always may', () => {
    assert.equal(mayAssignRole({ ...dave, role: 'commander', actorId: 'UCAROL', isEligibleCommander: true }).ok, true);
    assert.equal(mayAssignRole({ ...dave, role: 'ops_lead', actorId: 'UCAROL', isEligibleCommander: true }).ok, true);
    assert.equal(mayAssignRole({ ...dave, roles: {}, declaredBy: null, role: 'commander', actorId: 'UCAROL', isEligibleCommander: true }).ok, true);
    assert.equal(mayAssignRole({ ...dave, role: 'ops_lead', actorId: 'ULEAD', isPolicyApprover: true }).ok, true);
  });

  it('an eligible commander (or eligible role holder) decides; another eligible person is refused, naming the commander', () => {
    const carol = { ...dave, roles: { commander: 'UCAROL' }, commanderEligible: true };
    assert.equal(mayAssignRole({ ...carol, role: 'ops_lead', actorId: 'UCAROL', isEligibleCommander: true }).ok, true);
    assert.equal(
      mayAssignRole({ ...carol, roles: { commander: 'UCAROL', ops_lead: 'UBOB' }, role: 'ops_lead', actorId: 'UBOB', isEligibleCommander: true }).ok,
      true,
    );
    assert.deepEqual(mayAssignRole({ ...carol, role: 'ops_lead', actorId: 'UFRANK', isEligibleCommander: true }), {
      ok: false,
      only: 'commander',
      holder: 'UCAROL',
    });
    assert.deepEqual(mayAssignRole({ ...carol, role: 'ops_lead', actorId: 'UDAVE' }), { ok: false, only: 'commander', holder: 'UCAROL' });
  });
});

describe('decide and expiry', () => {
  it('counts distinct people only', () => {
    const two = policy({ min_approvals: 2 });
    assert.deepEqual(tallyVotes([{ userId: 'A' }, { userId: 'A' }], two), { approved: false, approvers: ['A'], needed: 2, remaining: 1 });
    assert.equal(tallyVotes([{ userId: 'A' }, { userId: 'B' }], two).approved, true);
    assert.equal(tallyVotes([], policy()).approved, false);
  });

  it('expires exactly at the deadline, using the configured default when the action sets none', () => {
    const eff = effectivePolicy(policy(), 15);
    const created = new Date('2024-01-01T00:00:00Z');
    const exp = expiryFor(created, eff);
    assert.equal(exp.toISOString(), '2024-01-01T00:15:00.000Z');
    assert.equal(isExpired({ expiresAt: exp }, new Date(exp.getTime() - 1)), false);
    assert.equal(isExpired({ expiresAt: exp }, exp), true);
    assert.equal(effectivePolicy(policy({ expiry_minutes: 5 }), 15).expiry_minutes, 5);
  });
});
