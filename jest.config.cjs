// Tests run as CommonJS through swc; workspace packages resolve to their TypeScript source
// through the "@svcrules/source" export condition, so no build is needed to test.
module.exports = {
  testEnvironment: 'node',
  testEnvironmentOptions: { customExportConditions: ['@svcrules/source', 'node', 'require', 'default'] },
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/packages/*/test/**/*.test.ts'],
  globalSetup: '<rootDir>/jest.global-setup.cjs',
  setupFiles: ['<rootDir>/jest.setup.cjs'],
  testTimeout: 60000,
  reporters: ['default', '<rootDir>/jest.summary-reporter.cjs'],
};
