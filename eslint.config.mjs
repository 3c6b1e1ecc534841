// Lint guards what the compiler cannot: the workflow sandbox (no Node built-ins, no AWS SDK, activities only
// as types), floating promises, and type-only imports.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

// Every Node built-in, as the running Node lists it (`fs`, `fs/promises`, `vm`, ...); `node:`-only ones such as
// `node:test` are caught by the pattern below.
const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_'));
const sandbox = 'workflow code runs in the deterministic sandbox: no Node built-ins';

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
      // no-restricted-imports below sees import declarations only; an import() would slip past it.
      'no-restricted-syntax': ['error', { selector: 'ImportExpression', message: 'workflow code imports statically (no import())' }],
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: sandbox })),
          patterns: [
            { regex: '^node:', message: sandbox },
            { group: ['@aws-sdk/*'], message: 'workflow code does no I/O: call an activity' },
            { group: ['@temporalio/activity', '@temporalio/worker', '@temporalio/client'], message: 'not for workflow code' },
            // From any depth (`../activities`, `../../activities/traffic`): test/unit/lint-guard.test.ts plants one.
            {
              regex: '^(\\.\\./)+activities(/.*)?$',
              allowTypeImports: true,
              message: 'workflows see activities only as types (import type from activities/contract)',
            },
          ],
        },
      ],
    },
  },
);
