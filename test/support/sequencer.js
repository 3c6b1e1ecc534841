/**
 * The order jest starts test files in: slowest first, across projects, so that no long file starts last and keeps one
 * worker busy while the other has nothing left to run. Jest's own sequencer orders by the durations it cached in an
 * earlier run; a fresh clone has none, and jest then orders by file size, which started the small but slow
 * `test/long/sequential-validity.test.ts` (100 s of CPU) among the last. A file without a cached duration takes its
 * estimate from ESTIMATES; one without either, from UNKNOWN_S. Failed files still go first, as in jest's own.
 */
const Sequencer = require('@jest/test-sequencer').default;
const path = require('node:path');

/**
 * Seconds per file in a full run of 90 files with four jest workers on the 2-core machine (a fresh clone, 2026-12-07,
 * jest 324 s): files of 15 s or more. Only the order matters, so a stale figure only changes which file starts first,
 * never what runs.
 */
const ESTIMATES = {
  // 35 s with npm's cache warm; 116 s on a machine whose npm cache is cold (a CI machine): that one decides.
  'test/integration/image.test.ts': 116,
  'test/integration/aws-faults.test.ts': 153,
  'test/integration/crash.test.ts': 122,
  'test/integration/demo.test.ts': 92,
  'test/integration/package.test.ts': 62,
  'test/integration/worker-credentials.test.ts': 57,
  'test/integration/workers.test.ts': 52,
  'test/long/sequential-validity.test.ts': 47,
  'test/integration/doctor.test.ts': 36,
  'test/integration/release-ownership.test.ts': 35,
  'test/integration/release.test.ts': 31,
  'test/integration/iam-policy.test.ts': 30,
  'test/integration/report.test.ts': 30,
  'test/integration/prometheus-source.test.ts': 30,
  'test/integration/server-restart.test.ts': 29,
  'test/integration/alb-metrics-release.test.ts': 29,
  'test/integration/concurrency.test.ts': 27,
  'test/integration/simulator.test.ts': 26,
  'test/integration/cli.test.ts': 23,
  'test/long/workflow-long-release.test.ts': 22,
  'test/integration/alb-release.test.ts': 20,
  'test/integration/hooks-release.test.ts': 19,
  'test/integration/segment-release.test.ts': 18,
  'test/integration/bad-input.test.ts': 18,
  'test/integration/temporal-ui.test.ts': 17,
};
/**
 * A file neither cached nor listed, by project: an integration or long file runs real releases or long simulations
 * (new ones have taken 50 to 100 s), a unit file rarely more than a few seconds.
 */
const UNKNOWN_S = { integration: 40, long: 40, unit: 5 };

class SlowestFirst extends Sequencer {
  sort(tests) {
    const seconds = (test) => {
      const cached = this.time(test);
      if (cached != null) return cached / 1000;
      const file = path.relative(test.context.config.rootDir, test.path).split(path.sep).join('/');
      return ESTIMATES[file] ?? UNKNOWN_S[test.context.config.displayName?.name] ?? UNKNOWN_S.unit;
    };
    const keyed = tests.map((test) => {
      // As jest's own sort does: the scheduler reads it (to run a few fast files in band).
      test.duration = this.time(test);
      return { test, failed: this.hasFailed(test), s: seconds(test) };
    });
    keyed.sort((a, b) => (a.failed !== b.failed ? (a.failed ? -1 : 1) : b.s - a.s));
    return keyed.map((k) => k.test);
  }
}

module.exports = SlowestFirst;
