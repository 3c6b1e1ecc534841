/**
 * The order jest starts test files in: slowest first, across projects, so that no long file starts last and keeps one
 * worker busy while the other has nothing left to run. Jest's own sequencer orders by the durations it cached in an
 * earlier run; a fresh clone has none, and jest then orders by file size, which started the small but slow
 * `test/long/sequential-validity.test.ts` (100 s of CPU) among the last. A file without a cached duration takes its
 * estimate from ESTIMATES; one without either counts as UNKNOWN_S. Failed files still go first, as in jest's own.
 */
const Sequencer = require('@jest/test-sequencer').default;
const path = require('node:path');

/**
 * Seconds per file, measured on the 2-core machine (full runs, so under the load of the other worker); only files
 * that take longer than UNKNOWN_S are listed. A stale figure only changes the order, never what runs.
 */
const ESTIMATES = {
  'test/integration/crash.test.ts': 150,
  'test/integration/aws-faults.test.ts': 110,
  'test/long/sequential-validity.test.ts': 100,
  'test/integration/demo.test.ts': 90,
  'test/integration/image.test.ts': 50,
  'test/integration/cli.test.ts': 50,
  'test/integration/release.test.ts': 45,
  'test/integration/package.test.ts': 40,
  'test/integration/alb-metrics-release.test.ts': 35,
  'test/integration/report.test.ts': 35,
  'test/integration/workers.test.ts': 30,
  'test/long/workflow-long-release.test.ts': 25,
  'test/integration/server-restart.test.ts': 24,
  'test/integration/segment-release.test.ts': 22,
  'test/integration/alb-release.test.ts': 22,
  'test/integration/temporal-ui.test.ts': 21,
  'test/integration/concurrency.test.ts': 21,
  'test/unit/workflow-rollback.test.ts': 16,
  'test/unit/workflow-gates.test.ts': 16,
  'test/integration/iam-policy.test.ts': 15,
  'test/integration/simulator.test.ts': 14,
  'test/integration/teardown-checks.test.ts': 14,
  'test/integration/bad-input.test.ts': 13,
  'test/integration/notify.test.ts': 12,
};
/** A file neither cached nor listed: most such files are new and small. */
const UNKNOWN_S = 8;

class SlowestFirst extends Sequencer {
  sort(tests) {
    const seconds = (test) => {
      const cached = this.time(test);
      if (cached != null) return cached / 1000;
      const file = path.relative(test.context.config.rootDir, test.path).split(path.sep).join('/');
      return ESTIMATES[file] ?? UNKNOWN_S;
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
