// Lint rules: strict TypeScript, no explicit `any`, no floating promises in src.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // AssemblyScript sources (sdk/assemblyscript, capsules/*/assembly) are compiled by asc, not tsc: its
  // decorators and types (i32, usize, ...) are not TypeScript.
  {ignores: ['dist/**', 'node_modules/**', 'test/fixtures/**', 'sdk/**/build/**', 'capsules/**/build/**', 'sdk/assemblyscript/**/*.ts', 'capsules/*/assembly/**']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-properties': [
        'error',
        {object: 'Math', property: 'random', message: 'Inject randomness (law 6): take an IdSource or use node:crypto.'},
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/kernel/clock.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        {object: 'Math', property: 'random', message: 'Inject randomness (law 6).'},
        {object: 'Date', property: 'now', message: 'Inject the clock (law 6): take a Clock.'},
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: {globals: {process: 'readonly', console: 'readonly', module: 'writable', require: 'readonly'}},
  },
);
