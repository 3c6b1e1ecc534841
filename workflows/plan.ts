/**
 * Pure planning: names, weights, gate rules and the rollback order, from the spec and the release state.
 * The workflow only sequences these with activities.
 */
import type { ParsedStep } from '../common/spec';
import type { Gate, Role, RoleWeights } from '../common/status';
import type { WeightedTargetGroup } from '../activities/contract';

/** FNV-1a, base 36: short, stable names from ids, without Node's crypto (workflow sandbox). */
export function shortHash(text: string, length = 6): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36).padStart(7, '0').slice(-length);
}

/**
 * A target group name for a release role: `SERVICE-VERSION-HASH` (canary) or `SERVICE-base-HASH` (baseline),
 * at most 32 characters of letters, digits and hyphens as ELBv2 requires; the hash keeps names unique per run.
 */
export function targetGroupName(service: string, label: string, releaseId: string): string {
  const hash = shortHash(releaseId);
  const room = 32 - service.length - hash.length - 2;
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, Math.max(room, 0))
    .replace(/-+$/g, '');
  return clean ? `${service}-${clean}-${hash}` : `${service}-${hash}`;
}

/**
 * Percent per role for a canary weight. With a baseline, canary and baseline get the same share (Kayenta-style,
 * stable = 100 - 2w) while that fits; above 50% the baseline is dropped and the canary is judged against stable.
 */
export function roleWeights(canaryWeight: number, withBaseline: boolean): RoleWeights {
  if (withBaseline && canaryWeight <= 50) return { stable: 100 - 2 * canaryWeight, canary: canaryWeight, baseline: canaryWeight };
  if (withBaseline) return { stable: 100 - canaryWeight, canary: canaryWeight, baseline: 0 };
  return { stable: 100 - canaryWeight, canary: canaryWeight };
}

/** The forward action's target groups for role weights (zero-weight groups stay attached until finalizing). */
export function forwardFor(weights: RoleWeights, arns: Partial<Record<Role, string>>): WeightedTargetGroup[] {
  const out: WeightedTargetGroup[] = [];
  for (const role of ['stable', 'canary', 'baseline'] as const) {
    const arn = arns[role];
    const weight = weights[role];
    if (arn && weight !== undefined) out.push({ targetGroupArn: arn, weight });
  }
  return out;
}

/** Percent per role from a verified forward action (raw weights normalised to 100). */
export function verifiedRoleWeights(forward: WeightedTargetGroup[], arns: Partial<Record<Role, string>>): RoleWeights {
  const total = forward.reduce((a, t) => a + t.weight, 0);
  const out: RoleWeights = {};
  for (const t of forward) {
    const role = (Object.keys(arns) as Role[]).find((r) => arns[r] === t.targetGroupArn);
    if (role) out[role] = total === 0 ? 0 : Math.round((t.weight / total) * 1000) / 10;
  }
  return out;
}

/** Index of the last setWeight step, or -1. */
export function lastWeightStep(steps: ParsedStep[]): number {
  for (let i = steps.length - 1; i >= 0; i--) if (steps[i]?.kind === 'setWeight') return i;
  return -1;
}

export type { Compensation } from '../common/status';

export { describeCompensation, rollbackOrder } from '../common/status-view';

/** Who may act on a gate, and why not: undefined when allowed. */
export function approvalProblem(gate: Gate | undefined, by: string, initiator: string, step?: number): string | undefined {
  if (!gate || gate.kind === 'manual-pause') return 'no gate is open: nothing waits for an approval';
  if (step !== undefined && step !== gate.step) return `stale approval: it is for step ${step}, the open gate is step ${gate.step}`;
  if (gate.kind !== 'approval') return undefined;
  if (!gate.allowSelfApproval && by === initiator) return `${by} started this release and cannot approve it (allowSelfApproval is off)`;
  if (gate.approvers && gate.approvers.length > 0 && !gate.approvers.includes(by))
    return `${by} is not an approver of step ${gate.step} (approvers: ${gate.approvers.join(', ')})`;
  return undefined;
}
