// Lint guards what the compiler cannot: the workflow sandbox (no Node built-ins, no AWS SDK, activities only
// as types), floating promises, and type-only imports.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert',
  'buffer',
  'child_process',
  'crypto',
  'dns',
  'events',
  'fs',
  'fs/promises',
  'http',
  'https',
  'net',
  'os',
  'path',
  'process',
  'stream',
  'timers',
  'tls',
  'url',
  'util',
  'worker_threads',
  'zlib',
];

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
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.flatMap((m) => [
            { name: m, message: 'workflow code runs in the deterministic sandbox: no Node built-ins' },
            { name: `node:${m}`, message: 'workflow code runs in the deterministic sandbox: no Node built-ins' },
          ]),
          patterns: [
            { group: ['@aws-sdk/*'], message: 'workflow code does no I/O: call an activity' },
            { group: ['@temporalio/activity', '@temporalio/worker', '@temporalio/client'], message: 'not for workflow code' },
            {
              regex: '^\\.\\./activities(/(?!contract$).*)?$',
              allowTypeImports: true,
              message: 'workflows see activities only as types (import type from ../activities/contract)',
            },
          ],
        },
      ],
    },
  },
);
