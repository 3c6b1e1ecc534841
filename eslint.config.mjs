// Lint guards what the compiler cannot: the workflow sandbox (no Node built-ins, no AWS SDK, activities only
// as types, the patch API only in the version registry), floating promises, and type-only imports.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

// Every Node built-in, as the running Node lists it (`fs`, `fs/promises`, `vm`, ...); `node:`-only ones such as
// `node:test` are caught by the pattern below.
const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_'));
const sandbox = 'workflow code runs in the deterministic sandbox: no Node built-ins';

const sandboxPaths = nodeBuiltins.map((name) => ({ name, message: sandbox }));
const sandboxPatterns = [
  { regex: '^node:', message: sandbox },
  { group: ['@aws-sdk/*'], message: 'workflow code does no I/O: call an activity' },
  { group: ['@temporalio/activity', '@temporalio/worker', '@temporalio/client'], message: 'not for workflow code' },
  // From any depth (`../activities`, `../../activities/traffic`): test/unit/lint-guard.test.ts plants one.
  {
    regex: '^(\\.\\./)+activities(/.*)?$',
    allowTypeImports: true,
    message: 'workflows see activities only as types (import type from activities/contract)',
  },
];
// A change to the commands a release issues goes through the registry of version flags (workflows/release/versions.ts).
const versionedOnly = {
  name: '@temporalio/workflow',
  importNames: ['patched', 'deprecatePatch'],
  message: 'ask a version flag of workflows/release/versions.ts (hasFlag), never the patch API directly',
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.venv/**', '.canary/**', 'bench/results/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['workflows/**/*.ts', 'common/**/*.ts', 'analysis/**/*.ts'],
    rules: {
      // no-restricted-syntax sees an import() that no-restricted-imports (import declarations only) would miss.
      'no-restricted-syntax': ['error', { selector: 'ImportExpression', message: 'workflow code imports statically (no import())' }],
      'no-restricted-imports': ['error', { paths: [...sandboxPaths, versionedOnly], patterns: sandboxPatterns }],
    },
  },
  {
    // The one registry of version flags asks the SDK's patch API; nothing else in workflow code may.
    files: ['workflows/release/versions.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: sandboxPaths, patterns: sandboxPatterns }] },
  },
);
