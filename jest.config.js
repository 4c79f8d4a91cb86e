// Jest runs TypeScript as native ESM through ts-jest; imports are written with `.js` suffixes
// (NodeNext resolution), which the mapper points back at the `.ts` sources.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  testMatch: ['<rootDir>/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  globalSetup: '<rootDir>/test/harness/jest/global-setup.mjs',
  globalTeardown: '<rootDir>/test/harness/jest/global-teardown.mjs',
  testSequencer: '<rootDir>/test/harness/jest/sequencer.mjs',
  testTimeout: 120_000,
  maxWorkers: 2,
};
