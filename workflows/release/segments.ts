/**
 * Segment steps: a named group of users (office CIDRs, a beta cookie, a country) reaches the canary through a
 * listener rule of the release, whatever the weights. Room is checked before anything changes; each rule is
 * registered in the saga before it is created, verified by describe, drift-checked like the forward actions,
 * removed by `endSegment`, first on rollback, and at promotion.
 */
import { Tags } from '../../common/aws-names';
import { describeMatch, maxConcurrentSegments, TEST_ROUTE_SEGMENT } from '../../common/segments';
import type { ParsedReleaseSpec, ParsedStep } from '../../common/spec';
import type { Compensation } from '../../common/status';
import { aws } from './activities';
import type { BackgroundAnalysis } from './background';
import type { ReleaseState } from './state';
import { checkSegmentRules } from './traffic';

type StepOf<K extends ParsedStep['kind']> = Extract<ParsedStep, { kind: K }>;
type SegmentCompensation = Extract<Compensation, { kind: 'deleteSegmentRule' }>;

/** True when the spec has segment steps (only then does a release ask for the `segments` patch). */
export function hasSegmentSteps(spec: ParsedReleaseSpec): boolean {
  return spec.steps.some((s) => s.kind === 'segment' || s.kind === 'endSegment');
}

/** Segment rules go on the listener of the first forward action, just ahead of the service's rule. */
function serviceRef(state: ReleaseState): { listenerArn: string; ruleArn?: string } {
  const ref = state.refs()[0] as { listenerArn: string; ruleArn?: string };
  return ref.ruleArn ? { listenerArn: ref.listenerArn, ruleArn: ref.ruleArn } : { listenerArn: ref.listenerArn };
}

/**
 * Validating, before anything changes: every segment's rule can be written on this listener and the load balancer
 * has room for as many as are active at once. A refusal (NoRoomForSegmentRule, SegmentRuleUnsupported) fails the
 * release as invalid with nothing changed.
 */
export async function checkSegmentRoom(state: ReleaseState): Promise<void> {
  const { steps, hooks } = state.spec;
  // The test route (hooks.testRoute) is a rule of its own before the first step, while no segment is active yet.
  const testRoute = hooks?.testRoute ? [{ name: TEST_ROUTE_SEGMENT, match: { header: { name: hooks.testRoute.header, values: ['canary-test'] } } }] : [];
  const concurrent = Math.max(maxConcurrentSegments(steps), testRoute.length);
  if (concurrent === 0) return;
  const segments = [...testRoute, ...steps.flatMap((s) => (s.kind === 'segment' ? [{ name: s.name, match: s.match }] : []))];
  const room = await aws.checkSegmentRoom({ ...serviceRef(state), aws: state.scope(), releaseId: state.releaseId, segments, concurrent });
  state.record('canary', 'room for segment rules', `${room.needed} needed at once; the load balancer has ${room.rulesOnLoadBalancer} of ${room.limit} rules`);
}

/** Step `segment`: plan a free priority, register the inverse, create and verify the rule, then analysis may judge it. */
export async function segmentStep(state: ReleaseState, background: BackgroundAnalysis, step: StepOf<'segment'>, i: number): Promise<void> {
  await checkSegmentRules(state);
  const { spec, data } = state;
  const ref = serviceRef(state);
  const request = {
    ...ref,
    aws: state.scope(),
    releaseId: state.releaseId,
    name: step.name,
    match: step.match,
    canaryTargetGroupArn: state.data.arns.canary as string,
    tags: { [Tags.service]: spec.service, [Tags.version]: spec.version },
  };
  const plan = await aws.planSegmentRule(request);
  // Registered before the write: a crash after CreateRule still leaves an inverse that finds the rule by its tags.
  const inverse: SegmentCompensation = { kind: 'deleteSegmentRule', listenerArn: ref.listenerArn, releaseId: state.releaseId, name: step.name };
  if (plan.existingRuleArn) inverse.ruleArn = plan.existingRuleArn;
  state.register(inverse);
  const rule = await aws.ensureSegmentRule({ ...request, priority: plan.priority });
  inverse.ruleArn = rule.ruleArn;
  state.data.activeRules[step.name] = rule;
  data.segments = [
    ...(data.segments ?? []).filter((s) => s.name !== step.name),
    { name: step.name, match: step.match, ruleArn: rule.ruleArn, priority: rule.priority, since: new Date().toISOString(), step: i },
  ];
  state.setWeights({ since: true });
  state.record(
    'canary',
    'segment',
    `${step.name}: ${describeMatch(step.match)} reaches the canary (rule priority ${rule.priority}${rule.created ? '' : ', found from an earlier attempt'}, verified)`,
  );
  state.details();
  background.start();
}

/** Step `endSegment`: the group's rule is deleted (verified gone) and leaves the saga and the status. */
export async function endSegmentStep(state: ReleaseState, step: StepOf<'endSegment'>): Promise<void> {
  await checkSegmentRules(state);
  const inverse = state.data.saga.find((c): c is SegmentCompensation => c.kind === 'deleteSegmentRule' && c.name === step.name);
  const ruleArn = state.data.activeRules[step.name]?.ruleArn ?? inverse?.ruleArn;
  const listenerArn = serviceRef(state).listenerArn;
  const d = await aws.deleteSegmentRule({ listenerArn, aws: state.scope(), releaseId: state.releaseId, name: step.name, ...(ruleArn ? { ruleArn } : {}) });
  if (inverse) state.completed(inverse);
  state.dropSegment(step.name);
  state.setWeights({ since: true });
  state.record('canary', 'endSegment', `${step.name}: ${d.deleted ? 'rule removed (verified)' : 'rule already gone'}`);
}

/** Deletes one segment rule (rollback or finalizing) and forgets it. */
export async function removeSegmentRule(
  state: ReleaseState,
  c: SegmentCompensation,
  act: { deleteSegmentRule: (typeof aws)['deleteSegmentRule'] },
): Promise<void> {
  const d = await act.deleteSegmentRule({
    listenerArn: c.listenerArn,
    aws: state.scope(),
    releaseId: c.releaseId,
    name: c.name,
    ...(c.ruleArn ? { ruleArn: c.ruleArn } : {}),
  });
  state.dropSegment(c.name);
  state.record('canary', 'remove segment rule', `${c.name}: ${d.deleted ? 'removed (verified)' : 'already gone'}`);
}
