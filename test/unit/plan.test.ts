import {
  approvalProblem,
  describeCompensation,
  forwardFor,
  rollbackOrder,
  roleWeights,
  shortHash,
  targetGroupName,
  verifiedRoleWeights,
  type Compensation,
} from '../../workflows/plan';

describe('release planning', () => {
  it('names target groups within ELBv2 rules (32 characters, letters, digits, hyphens) and per run', () => {
    const a = targetGroupName('checkout', 'v2.3.1+build.7', 'release-checkout/run-1');
    expect(a).toMatch(/^checkout-v2-3-1-build-7-[0-9a-z]{6}$/);
    expect(a.length).toBeLessThanOrEqual(32);
    expect(targetGroupName('checkout', 'v2.3.1+build.7', 'release-checkout/run-2')).not.toBe(a);
    const long = targetGroupName('a-twenty-char-servic', 'VERY-LONG-VERSION-STRING', 'x');
    expect(long.length).toBeLessThanOrEqual(32);
    expect(long).not.toMatch(/--|-$/);
    expect(shortHash('x')).toBe(shortHash('x'));
  });

  it('gives baseline and canary the same share while it fits, then drops the baseline', () => {
    expect(roleWeights(10, true)).toEqual({ stable: 80, canary: 10, baseline: 10 });
    expect(roleWeights(50, true)).toEqual({ stable: 0, canary: 50, baseline: 50 });
    expect(roleWeights(75, true)).toEqual({ stable: 25, canary: 75, baseline: 0 });
    expect(roleWeights(30, false)).toEqual({ stable: 70, canary: 30 });
  });

  it('maps role weights to the forward action and back to percent', () => {
    const arns = { stable: 'arn:s', canary: 'arn:c' };
    const fwd = forwardFor({ stable: 70, canary: 30 }, arns);
    expect(fwd).toEqual([
      { targetGroupArn: 'arn:s', weight: 70 },
      { targetGroupArn: 'arn:c', weight: 30 },
    ]);
    expect(verifiedRoleWeights([{ targetGroupArn: 'arn:s', weight: 1 }], arns)).toEqual({ stable: 100 });
  });

  it('rolls back traffic first, then the other inverses newest first', () => {
    const saga: Compensation[] = [
      { kind: 'deleteTargetGroup', listenerArn: 'l', name: 'canary' },
      { kind: 'deleteTargetGroup', listenerArn: 'l', name: 'baseline' },
      { kind: 'restoreActions', listenerArn: 'l', actions: [] },
    ];
    expect(rollbackOrder(saga).map((c) => (c.kind === 'restoreActions' ? 'restore' : 'name' in c ? c.name : c.kind))).toEqual([
      'restore',
      'baseline',
      'canary',
    ]);
  });

  it('puts the stickiness back after the segment rules and before the forward actions, while both groups are still in them', () => {
    const sticky = { enabled: true, durationSeconds: 3600 };
    const saga: Compensation[] = [
      { kind: 'restoreActions', listenerArn: 'l', actions: [] },
      { kind: 'deleteTargetGroup', listenerArn: 'l', name: 'canary' },
      { kind: 'restoreStickiness', listenerArn: 'l', original: { enabled: false }, set: sticky },
      { kind: 'deleteSegmentRule', listenerArn: 'l', releaseId: 'r', name: 'staff' },
    ];
    expect(rollbackOrder(saga).map((c) => c.kind)).toEqual(['deleteSegmentRule', 'restoreStickiness', 'restoreActions', 'deleteTargetGroup']);
    expect(describeCompensation(saga[2] as Compensation).description).toBe(
      "set the listener's forward stickiness back to no stickiness (unless someone changed it from stickiness 3600s) and verify it",
    );
  });

  it('removes segment rules first, newest first, then restores every forward action, then the rest newest first', () => {
    const saga: Compensation[] = [
      { kind: 'deleteTargetGroup', listenerArn: 'l', name: 'canary' },
      { kind: 'restoreActions', listenerArn: 'l', actions: [] },
      { kind: 'restoreActions', listenerArn: 'l2', actions: [] },
      { kind: 'deleteSegmentRule', listenerArn: 'l', releaseId: 'r', name: 'staff' },
      { kind: 'deleteSegmentRule', listenerArn: 'l', releaseId: 'r', name: 'beta', ruleArn: 'arn:rule' },
    ];
    expect(rollbackOrder(saga).map((c) => (c.kind === 'restoreActions' ? `restore ${c.listenerArn}` : 'name' in c ? c.name : c.kind))).toEqual([
      'beta',
      'staff',
      'restore l',
      'restore l2',
      'canary',
    ]);
  });

  it('binds approvals to the open gate, its approvers and not the initiator', () => {
    const gate = { kind: 'approval' as const, seq: 1, step: 3, approvers: ['alice'], allowSelfApproval: false, openedAt: '' };
    expect(approvalProblem(undefined, 'alice', 'ci')).toMatch(/no gate is open/);
    expect(approvalProblem(gate, 'alice', 'ci', 2)).toMatch(/stale approval/);
    expect(approvalProblem(gate, 'bob', 'ci')).toMatch(/bob is not an approver/);
    expect(approvalProblem({ ...gate, approvers: [] }, 'ci', 'ci')).toMatch(/ci started this release/);
    expect(approvalProblem({ ...gate, approvers: [], allowSelfApproval: true }, 'ci', 'ci')).toBeUndefined();
    expect(approvalProblem(gate, 'alice', 'ci', 3)).toBeUndefined();
  });
});
