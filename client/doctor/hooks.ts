/**
 * `canary doctor`'s check of the spec's hooks (docs/HOOKS.md): each hook the spec names is held in the environment
 * doctor runs in (CANARY_HOOK_<NAME> and its _SECRET: run doctor where the worker runs, with its variables), its URL is
 * one the worker may call, and it answers a signed probe (`point: probe`) the way the worker would send it: any
 * answer the worker could read (pass, fail or running) shows the hook is there and checks the signature. A hook
 * should answer a probe with pass and change nothing.
 */
import { createHookActivities, hooksFromEnv } from '../../activities/hooks';
import { hookEnvName, hookNamesOf, type HookContext } from '../../common/hooks';
import { oneLine, specCheck, type CheckResult, type DoctorCheck } from './checks';

const hooksAnswer = specCheck({
  id: 'hooks',
  title: 'hooks answer',
  async run(spec): Promise<CheckResult> {
    const names = hookNamesOf(spec.hooks, spec.steps);
    if (!names.length) return { status: 'skip', text: 'the spec uses no hook' };
    const config = hooksFromEnv(process.env);
    const { callHook } = createHookActivities(config);
    const failed: string[] = [];
    const answered: string[] = [];
    for (const hook of names) {
      const probe: HookContext = {
        hook,
        point: 'probe',
        releaseId: `doctor-${spec.service}`,
        run: 0,
        service: spec.service,
        version: spec.version,
        step: 0,
        phase: 'Validating',
        listenerArn: spec.traffic[0]?.listenerArn ?? '',
        targetGroups: [],
        weights: {},
        attempt: 1,
      };
      try {
        const a = await callHook(probe);
        answered.push(`${hook} (HTTP ${a.status}, ${a.result})`);
      } catch (e) {
        failed.push(`${hook}: ${oneLine(e).slice(0, 300)}`);
      }
    }
    if (failed.length) {
      const vars = names.map(hookEnvName).join(', ');
      return {
        status: 'fail',
        text: failed.join('; '),
        fix: `set ${vars} and each one's _SECRET where the worker runs, and run doctor with the same variables; a hook must answer 2xx with {"result":"pass"} to a probe`,
      };
    }
    return { status: 'ok', text: answered.join(', ') };
  },
});

export const hookChecks: readonly DoctorCheck[] = [hooksAnswer];
