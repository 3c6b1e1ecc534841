/**
 * `canary doctor`'s Temporal checks: the server answers, the namespace exists, the release search attributes are
 * registered (`--fix` registers them on a self-hosted cluster; Temporal Cloud gets the `tcld` command), and a worker
 * polls the task queue, with its build and the spec apiVersions it runs.
 */
import { workerVerdict } from '../../common/versions';
import { connect } from '../connection';
import { isTemporalCloud, missingSearchAttributes, namespaceExists, registerSearchAttributes, tcldCommand } from '../namespace';
import { taskQueuePollers } from '../workers';
import { checkWith, oneLine, type CheckResult, type DoctorCheck, type DoctorContext } from './checks';

const SETTINGS = 'TEMPORAL_ADDRESS / --address, TEMPORAL_NAMESPACE / --namespace, TEMPORAL_API_KEY or TEMPORAL_TLS_* (docs/CLI.md)';

const reachable: DoctorCheck = {
  id: 'temporal-reachable',
  title: 'Temporal reachable',
  async run(ctx) {
    const settings = ctx.temporalSettings;
    if ('problem' in settings) return { status: 'fail', text: settings.problem, fix: `correct ${SETTINGS}` };
    try {
      const opened = await connect(settings);
      ctx.temporal = { connection: opened.connection, client: opened.client };
    } catch (e) {
      return { status: 'fail', text: `${settings.address} does not answer: ${oneLine(e)}`, fix: `check ${SETTINGS}, and that the server is up` };
    }
    const info = await ctx.temporal.connection.workflowService.getSystemInfo({}).catch(() => undefined);
    return { status: 'ok', text: `${settings.address}${info?.serverVersion ? ` (server ${info.serverVersion})` : ''}` };
  },
};

const namespace = checkWith(temporalOf, {
  id: 'temporal-namespace',
  title: 'namespace exists',
  needs: ['temporal-reachable'],
  async run({ connection, ns, address }) {
    if (await namespaceExists(connection, ns)) return { status: 'ok', text: ns };
    return {
      status: 'fail',
      text: `no namespace ${ns} on ${address}`,
      fix: isTemporalCloud(address)
        ? `create it in the Temporal Cloud UI (or tcld namespace create), or set TEMPORAL_NAMESPACE to <namespace>.<account>`
        : `temporal operator namespace create --namespace ${ns} --address ${address}, or set TEMPORAL_NAMESPACE`,
    };
  },
});

const searchAttributes = checkWith(temporalOf, {
  id: 'temporal-search-attributes',
  title: 'search attributes',
  needs: ['temporal-namespace'],
  async run({ connection, ns, address }, ctx) {
    const cloud = isTemporalCloud(address);
    let missing: string[];
    try {
      missing = await missingSearchAttributes(connection, ns);
    } catch (e) {
      return { status: 'skip', text: `ListSearchAttributes answered ${oneLine(e)}${cloud ? '; see the namespace in the Temporal Cloud UI' : ''}` };
    }
    if (missing.length === 0) return { status: 'ok', text: 'ReleaseService, ReleaseVersion, ReleasePhase, CanaryWeight registered' };
    const text = `namespace ${ns} lacks ${missing.join(', ')} (releases start without them; list and status show less)`;
    if (cloud) return { status: 'fail', text, fix: tcldCommand(ns) };
    const retyped = missing.filter((m) => m.includes(' '));
    if (retyped.length)
      return { status: 'fail', text, fix: `remove ${retyped.join(', ')} (temporal operator search-attribute remove) and run canary doctor --fix` };
    if (!ctx.fix) return { status: 'fail', text, fix: 'canary doctor --fix registers them (OperatorService AddSearchAttributes)' };
    await registerSearchAttributes(connection, ns, missing);
    const still = await missingSearchAttributes(connection, ns);
    if (still.length)
      return {
        status: 'fail',
        text: `registered ${missing.join(', ')}, but ${still.join(', ')} still missing`,
        fix: 'run canary doctor --fix again in a minute',
      };
    return { status: 'ok', text: `registered ${missing.join(', ')} (--fix)` };
  },
});

const workers = checkWith(temporalOf, {
  id: 'temporal-workers',
  title: 'worker',
  needs: ['temporal-namespace'],
  async run({ client, ns, queue }, ctx): Promise<CheckResult> {
    const pollers = await taskQueuePollers(client, queue);
    if (pollers.length === 0) {
      return {
        status: 'fail',
        text: `no worker polls task queue ${queue} in namespace ${ns}`,
        fix: `start canary-worker with TEMPORAL_NAMESPACE=${ns} and CANARY_TASK_QUEUE=${queue} (or pass the worker's queue with --task-queue)`,
      };
    }
    const apiVersion = ctx.spec?.apiVersion;
    const { verdict, message } = workerVerdict(apiVersion ?? '', pollers);
    if (apiVersion && verdict === 'refused') {
      return { status: 'fail', text: `no worker on ${queue} runs apiVersion ${apiVersion}: ${message}`, fix: 'upgrade canary-worker to a build that lists it' };
    }
    const runs = apiVersion ? (verdict === 'ok' ? `; runs ${apiVersion}` : `; cannot tell whether it runs ${apiVersion}`) : '';
    return { status: 'ok', text: `${pollers.length} poller(s) on ${queue}: ${message}${runs}` };
  },
});

function temporalOf(ctx: DoctorContext): {
  connection: NonNullable<DoctorContext['temporal']>['connection'];
  client: NonNullable<DoctorContext['temporal']>['client'];
  ns: string;
  address: string;
  queue: string;
} {
  const t = ctx.temporal;
  const settings = ctx.temporalSettings;
  if (!t || 'problem' in settings) throw new Error('Temporal is not connected');
  return { connection: t.connection, client: t.client, ns: settings.namespace, address: settings.address, queue: settings.taskQueue };
}

export const temporalChecks: readonly DoctorCheck[] = [reachable, namespace, searchAttributes, workers];
