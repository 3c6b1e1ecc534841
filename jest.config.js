/** @type {import('jest').Config} */
// ts-jest transpiles each file alone (no type check) because tsconfig.json sets isolatedModules; `tsc --noEmit` in
// `npm test` checks the types once.
const transform = { '^.+\\.ts$': ['ts-jest', {}] };
const common = { testEnvironment: 'node', transform, moduleFileExtensions: ['ts', 'js', 'json'] };

module.exports = {
  // Four workers on the 2-core machine: the integration files (one shared dev server and moto server) mostly wait on
  // releases' timers, retries and child processes; alone, one keeps a third to half of a core busy. With three, the
  // cores sat idle for a fifth of the run (whole minutes at 30-50% while three waiting files ran at once); with four
  // they are busy nearly throughout, and jest took 324 s instead of 379 s on a fresh clone (2026-12-07).
  maxWorkers: 4,
  // Integration tests run real releases (seconds each); unit tests finish far below this.
  testTimeout: 120_000,
  reporters: ['default', '<rootDir>/test/support/log-tail-reporter.js'],
  // Slowest files first across projects, also on a fresh clone, which has no cached durations.
  testSequencer: '<rootDir>/test/support/sequencer.js',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    // Releases of days and weeks on the time-skipping server: minutes of wall time, kept apart from the fast unit tests.
    { ...common, displayName: 'long', testMatch: ['<rootDir>/test/long/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
