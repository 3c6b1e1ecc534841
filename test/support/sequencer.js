/**
 * The order jest starts test files in: slowest first, across projects, so that no long file starts last and keeps one
 * worker busy while the other has nothing left to run. Jest's own sequencer orders by the durations it cached in an
 * earlier run; a fresh clone has none, and jest then orders by file size, which started the small but slow
 * `test/long/sequential-validity.test.ts` (then 100 s of CPU) among the last. A file without a cached duration takes its
 * estimate from ESTIMATES; one without either, from UNKNOWN_S. Failed files still go first, as in jest's own.
 */
const Sequencer = require('@jest/test-sequencer').default;
const path = require('node:path');

/**
 * Seconds per file in a full run of 92 files with four jest workers beside `scripts/check.sh` on the 2-core machine (a
 * fresh clone, 2026-12-08, jest 520 s): files of 15 s or more. The unit project's workflow files are among them: left
 * to UNKNOWN_S they started last and ran alone at the end. Only the order matters, so a stale figure only changes
 * which file starts first, never what runs.
 */
const ESTIMATES = {
  'test/integration/crash.test.ts': 204,
  'test/integration/aws-faults.test.ts': 191,
  // Its npm installs are CPU and disk: 35 s with npm's cache warm, 188 s on a fresh clone beside the other files.
  'test/integration/image.test.ts': 188,
  'test/integration/demo.test.ts': 151,
  'test/integration/package.test.ts': 83,
  'test/long/workflow-long-release.test.ts': 63,
  'test/integration/release-ownership.test.ts': 55,
  'test/integration/worker-credentials.test.ts': 50,
  'test/integration/simulator.test.ts': 50,
  'test/integration/cli.test.ts': 48,
  'test/integration/doctor.test.ts': 47,
  'test/integration/demo-command.test.ts': 47,
  'test/integration/concurrency.test.ts': 45,
  'test/integration/prometheus-source.test.ts': 43,
  'test/integration/alb-release.test.ts': 38,
  'test/integration/report.test.ts': 37,
  'test/integration/iam-policy.test.ts': 34,
  'test/integration/release.test.ts': 32,
  'test/integration/alb-metrics-release.test.ts': 32,
  'test/long/sequential-validity.test.ts': 32,
  'test/integration/workers.test.ts': 31,
  'test/integration/temporal-ui.test.ts': 31,
  'test/integration/bad-input.test.ts': 31,
  'test/integration/hooks-release.test.ts': 29,
  'test/unit/replay.test.ts': 25,
  'test/integration/segment-release.test.ts': 24,
  'test/unit/gate-answers.test.ts': 24,
  'test/integration/server-restart.test.ts': 21,
  'test/integration/notify.test.ts': 21,
  'test/integration/segments.test.ts': 20,
  'test/integration/alb-activities.test.ts': 20,
  'test/unit/workflow-gates.test.ts': 18,
  'test/unit/workflow-rollback.test.ts': 17,
  'test/integration/teardown-checks.test.ts': 16,
  'test/long/handover-order.test.ts': 15,
  'test/integration/signing.test.ts': 15,
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
