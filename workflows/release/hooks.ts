/**
 * Hooks: the team's own checks at the points of a release and in `webhook` steps (common/hooks.ts, docs/HOOKS.md).
 * The spec names hooks; the worker holds their URLs and secrets, checked once at the start (an unknown name fails the
 * release before anything changes). Each call is a durable activity. `running` is asked again after its retryAfter,
 * connection errors and 5xx are retried, all within the use's timeout, whose action is rollback or continue. A
 * `fail` rolls the release back with the hook's reason; after promotion or rollback a failure can only warn. Every
 * answer goes into the timeline.
 *
 * The test route: before any traffic, a listener rule of the release's own (a segment rule matching one header and
 * the release's test token) lets the before-traffic hooks reach the canary through the load balancer; saga-managed,
 * and removed before the first weight.
 */
import { ActivityFailure, ApplicationFailure, CancellationScope, condition, sleep } from '@temporalio/workflow';
import { Tags } from '../../common/aws-names';
import { HookErrors, hookNamesOf, type HookAnswer, type HookContext, type HookPoint, type HookUse } from '../../common/hooks';
import { TEST_ROUTE_SEGMENT } from '../../common/segments';
import type { Compensation } from '../../common/status';
import { shortHash } from '../plan';
import { aws, causeMessage, hookCall, workerConfig } from './activities';
import { interruptible } from './gates';
import { StopRelease, type ReleaseState } from './state';

/** What a use of a hook came to: passed, or went on after a timeout or (warn-only points) a failure, with why. */
type UseEnd = { ok: true } | { ok: false; why: string };

/** The points where a failure cannot roll anything back: it is recorded and reported, and the release ends as it was. */
const WARN_ONLY: readonly (HookPoint | 'step')[] = ['afterPromotion', 'afterRollback'];

/**
 * At the start, before anything changes: every hook the spec names is held by the worker, with a secret and a URL it
 * may call. Asked only by releases that use hooks.
 */
export async function checkHooks(state: ReleaseState): Promise<void> {
  const names = hookNamesOf(state.spec.hooks, state.spec.steps);
  if (names.length === 0) return;
  const { hooks } = await workerConfig.workerHooks();
  const problems = names.flatMap((n) => {
    const held = hooks[n];
    if (!held) return [`hook "${n}" is not configured on this worker: set CANARY_HOOK_${n.toUpperCase().replace(/-/g, '_')} and its _SECRET`];
    return held.problem ? [`hook "${n}": ${held.problem}`] : [];
  });
  if (problems.length) throw ApplicationFailure.create({ type: 'InvalidRelease', nonRetryable: true, message: problems.join('; ') });
  state.record('canary', 'hooks', `${names.join(', ')} held by the worker`);
}

/** Runs the hooks of `point` in order; returns the warnings of warn-only points (a failure elsewhere throws a stop). */
export async function runHooks(state: ReleaseState, point: HookPoint): Promise<string[]> {
  const warnings: string[] = [];
  for (const use of state.spec.hooks?.[point] ?? []) {
    const end = await callUse(state, use, point);
    if (!end.ok) warnings.push(end.why);
  }
  return warnings;
}

/** After a rollback: the after-rollback hooks, which a cancellation of the workflow does not stop. */
export async function afterRollback(state: ReleaseState): Promise<void> {
  await CancellationScope.nonCancellable(() => runHooks(state, 'afterRollback'));
}

/** A `webhook` step. */
export async function webhookStep(state: ReleaseState, step: { hook: string; timeoutMs: number; onTimeout: 'rollback' | 'continue' }): Promise<void> {
  await callUse(state, { hook: step.hook, timeout: step.timeoutMs, onTimeout: step.onTimeout }, 'step');
}

/**
 * Before any user traffic (the canary attached at weight 0 and healthy): opens the test route when the spec asks for
 * one, runs the before-traffic hooks against it, and removes it.
 */
export async function beforeTraffic(state: ReleaseState): Promise<void> {
  const hooks = state.spec.hooks;
  if (!hooks || (!hooks.testRoute && hooks.beforeTraffic.length === 0)) return;
  const route = hooks.testRoute ? await openTestRoute(state, hooks.testRoute.header) : undefined;
  await runHooks(state, 'beforeTraffic');
  if (route) await closeTestRoute(state, route);
}

function context(state: ReleaseState, hook: string, point: HookContext['point'], attempt: number): HookContext {
  const { spec, data } = state;
  return {
    hook,
    point,
    releaseId: data.releaseId,
    run: data.run,
    service: spec.service,
    version: spec.version,
    step: data.step,
    phase: data.phase,
    listenerArn: state.refs()[0]?.listenerArn ?? '',
    targetGroups: data.targetGroups,
    weights: data.verifiedWeights,
    ...(data.testRoute ? { testRoute: data.testRoute } : {}),
    attempt,
  };
}

/** Calls one use of a hook until it passes, fails or its timeout passes; a stop interrupts it (except warn-only). */
async function callUse(state: ReleaseState, use: HookUse, point: HookPoint | 'step'): Promise<UseEnd> {
  const warnOnly = WARN_ONLY.includes(point);
  const where = point === 'step' ? `step ${state.data.step}` : point;
  const deadline = Date.now() + use.timeout;
  let last = 'no answer';
  for (let attempt = 1; ; attempt++) {
    const remaining = deadline - Date.now();
    let answer: HookAnswer | undefined;
    if (remaining > 0) {
      const call = () => hookCall(remaining).callHook(context(state, use.hook, point, attempt));
      try {
        answer = warnOnly ? await call() : await interruptible(state, call);
      } catch (err) {
        if (err instanceof StopRelease) throw err;
        const type = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause.type : undefined;
        last = causeMessage(err);
        if (type === HookErrors.rejected || type === HookErrors.notConfigured) return failed(state, use, where, warnOnly, last);
      }
    }
    if (!answer) return timedOut(state, use, where, warnOnly, last);
    const detail = answer.result === 'fail' ? answer.reason : answer.detail;
    state.record('canary', `hook ${use.hook} (${where}): ${answer.result}`, `HTTP ${answer.status}${detail ? `: ${detail}` : ''}`);
    if (answer.result === 'pass') return { ok: true };
    if (answer.result === 'fail') return failed(state, use, where, warnOnly, answer.reason);
    last = `still running after ${attempt} call(s)${detail ? `: ${detail}` : ''}`;
    if (Date.now() + answer.retryAfterMs >= deadline) return timedOut(state, use, where, warnOnly, last);
    if (warnOnly) await sleep(answer.retryAfterMs);
    else if (await condition(() => state.stop !== undefined, answer.retryAfterMs)) state.throwIfStopped();
  }
}

function failed(state: ReleaseState, use: HookUse, where: string, warnOnly: boolean, reason: string): UseEnd {
  const why = `hook ${use.hook} (${where}) failed: ${reason}`;
  if (!warnOnly) throw new StopRelease('rolled-back', why, 'canary');
  state.record('canary', `ALERT: hook ${use.hook} failed`, reason, false);
  return { ok: false, why };
}

function timedOut(state: ReleaseState, use: HookUse, where: string, warnOnly: boolean, last: string): UseEnd {
  const why = `hook ${use.hook} (${where}) gave no verdict within its timeout (${last})`;
  if (use.onTimeout === 'rollback' && !warnOnly) throw new StopRelease('rolled-back', why, 'canary');
  state.record('canary', `hook ${use.hook} timed out`, `${last}; ${warnOnly ? 'nothing left to roll back' : 'onTimeout: continue'}`, false);
  return { ok: false, why };
}

type RouteCompensation = Extract<Compensation, { kind: 'deleteSegmentRule' }>;

/** Creates the test route (registered in the saga first, verified by describe) and tells the hooks about it. */
async function openTestRoute(state: ReleaseState, header: string): Promise<RouteCompensation> {
  const { spec } = state;
  const ref = state.refs()[0] as { listenerArn: string; ruleArn?: string };
  const value = `canary-${shortHash(state.releaseId, 16)}`;
  const request = {
    listenerArn: ref.listenerArn,
    ...(ref.ruleArn ? { ruleArn: ref.ruleArn } : {}),
    aws: state.scope(),
    releaseId: state.releaseId,
    name: TEST_ROUTE_SEGMENT,
    match: { header: { name: header, values: [value] } },
    canaryTargetGroupArn: state.data.arns.canary as string,
    tags: { [Tags.service]: spec.service, [Tags.version]: spec.version },
  };
  const plan = await aws.planSegmentRule(request);
  const inverse: RouteCompensation = { kind: 'deleteSegmentRule', listenerArn: ref.listenerArn, releaseId: state.releaseId, name: TEST_ROUTE_SEGMENT };
  if (plan.existingRuleArn) inverse.ruleArn = plan.existingRuleArn;
  state.register(inverse);
  const rule = await aws.ensureSegmentRule({ ...request, priority: plan.priority });
  inverse.ruleArn = rule.ruleArn;
  state.data.testRoute = { header, value };
  state.record('canary', 'test route open', `requests with ${header}: ${value} reach the canary (rule priority ${rule.priority}, verified); no user does`);
  return inverse;
}

async function closeTestRoute(state: ReleaseState, inverse: RouteCompensation): Promise<void> {
  const d = await CancellationScope.nonCancellable(() =>
    aws.deleteSegmentRule({
      listenerArn: inverse.listenerArn,
      aws: state.scope(),
      releaseId: inverse.releaseId,
      name: inverse.name,
      ...(inverse.ruleArn ? { ruleArn: inverse.ruleArn } : {}),
    }),
  );
  state.completed(inverse);
  state.data.testRoute = undefined;
  state.record('canary', 'test route removed', d.deleted ? 'rule deleted (verified)' : 'rule already gone');
}
