import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PolicySchema } from '../../src/domain/actions.js';
import { canApprove, snapshotApprovers } from '../../src/domain/approval-policy.js';
import { approvalRefusal, describeApprovers, describePolicy } from '../../src/slack/blocks/approval.js';

/** The gate's decisions are data (domain/approval-policy.ts); these are the words people read. */
const policy = (over: Record<string, unknown> = {}) => PolicySchema.parse(over);

describe('describePolicy', () => {
  it('names roles, groups and people', () => {
    assert.equal(
      describePolicy(policy({ roles: ['commander'], usergroups: ['S0SRE'] })),
      'needs 1 approval from the commander or <!subteam^S0SRE>; the proposer cannot approve their own proposal',
    );
    assert.equal(
      describePolicy(policy({ roles: ['commander', 'ops_lead'], users: ['U1'], min_approvals: 2, allow_self_approval: true })),
      'needs 2 approvals from different people from the commander, the ops lead or <@U1>',
    );
    assert.match(describePolicy(policy({ roles: [] })), /no approver is configured/);
  });
});

describe('a refused click names who may approve, as fixed at proposal time', () => {
  const p = policy({ roles: ['commander'], usergroups: ['S1'], users: ['UONE'] });
  const approvers = snapshotApprovers(p, { commander: 'UCMD' }, { S1: ['UGRP'] });

  it('names the role holder at proposal time, the group and the people', () => {
    assert.equal(describeApprovers(p, approvers), 'the commander (<@UCMD>), <!subteam^S1> or <@UONE>');
    const verdict = canApprove({ policy: p, userId: 'UOTHER', proposerId: 'UPROP', approvers });
    assert.ok(!verdict.ok);
    assert.equal(
      approvalRefusal(verdict, p, approvers, 'approve'),
      ':no_entry: You may not approve this action. It needs 1 approval from the commander (<@UCMD>), <!subteam^S1> or <@UONE>. Who may approve was fixed when it was proposed.',
    );
  });

  it('the proposer is told someone else must approve', () => {
    const verdict = canApprove({ policy: p, userId: 'UCMD', proposerId: 'UCMD', approvers });
    assert.ok(!verdict.ok);
    assert.equal(
      approvalRefusal(verdict, p, approvers, 'approve'),
      ':no_entry: You proposed this action, so someone else must approve it: the commander (<@UCMD>), <!subteam^S1> or <@UONE>.',
    );
  });

  it('an unassigned commander: nobody can, and the way out is to take command', () => {
    const d = policy();
    const none = snapshotApprovers(d, {}, {});
    assert.equal(describeApprovers(d, none), 'the commander (nobody held it when this was proposed)');
    const verdict = canApprove({ policy: d, userId: 'UCMD', proposerId: 'UPROP', approvers: none });
    assert.ok(!verdict.ok);
    assert.match(approvalRefusal(verdict, d, none, 'deny'), /^:no_entry: Nobody can deny this proposal: the incident had no commander .* Take command first/);
  });
});
