/**
 * `npm run test:month`: the 30-day release with 1-minute background analysis (test/month), about 20 minutes of wall
 * time on the time-skipping server, more than the whole of `npm test`; jest.config.js leaves it out.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', {}] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/test/month/**/*.test.ts'],
  testTimeout: 4 * 3_600_000,
};
