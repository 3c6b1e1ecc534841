/** @type {import('jest').Config} */
const transform = { '^.+\\.ts$': ['ts-jest', {}] };
const common = { testEnvironment: 'node', transform, moduleFileExtensions: ['ts', 'js', 'json'] };

module.exports = {
  // Integration suites share one dev server and one moto server; two workers fit this 2-core machine.
  maxWorkers: 2,
  // Integration tests run real releases (seconds each); unit tests finish far below this.
  testTimeout: 120_000,
  reporters: ['default', '<rootDir>/test/support/log-tail-reporter.js'],
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
