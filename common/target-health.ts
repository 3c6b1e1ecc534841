/**
 * Target health in words, the same in the activity's heartbeat and failure, the status and the CLI. Pure and
 * workflow-safe.
 */

/** One target's health as DescribeTargetHealth reports it. */
export interface TargetHealthLike {
  /** `10.0.1.17:8080` */
  target: string;
  state: string;
  reason?: string;
}

/** What a reason means for a release, where AWS's code alone would leave a reader guessing. */
const MEANING: Record<string, string> = {
  'Target.NotInUse': 'not attached yet: the group is in no forward action, so the load balancer does not health-check it',
  'Target.NotRegistered': 'not registered in the group',
  'Elb.RegistrationInProgress': 'registering',
  'Elb.InitialHealthChecking': 'first health checks running',
  'Target.DeregistrationInProgress': 'deregistering (draining)',
};

/** `10.0.1.17:8080 unhealthy (Target.FailedHealthChecks)`; `unused (Target.NotInUse: not attached yet: …)`. */
export function describeTargetHealth(t: TargetHealthLike): string {
  if (!t.reason) return `${t.target} ${t.state}`;
  const meaning = MEANING[t.reason];
  return `${t.target} ${t.state} (${t.reason}${meaning ? `: ${meaning}` : ''})`;
}

/** The targets that are not healthy, described one by one, or `all healthy`. */
export function describeUnhealthy(targets: readonly TargetHealthLike[]): string {
  const bad = targets.filter((t) => t.state !== 'healthy');
  return bad.length === 0 ? 'all healthy' : bad.map(describeTargetHealth).join('; ');
}

/** True when every report says the group is in no forward action (health checks have not started). */
export function notAttached(targets: readonly TargetHealthLike[]): boolean {
  return targets.length > 0 && targets.every((t) => t.reason === 'Target.NotInUse');
}
