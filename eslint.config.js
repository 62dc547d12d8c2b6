// ESLint flat config: typescript-eslint's recommended rules, syntax-based only. The type-aware set
// (recommendedTypeChecked) builds a TypeScript program first, several times slower on CI's 2 cores.
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', '.cache/', 'results/', 'scratch/', 'training/', 'models/'] },
  tseslint.configs.recommended,
  {
    rules: {
      // `_name` marks a parameter or binding kept for its position (a callback's signature, a destructured rest).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // CommonJS config files (.dependency-cruiser.cjs) have require() as their import.
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // A test speaks through its assertions; a skipped test may say why with console.warn.
    files: ['test/**'],
    rules: { 'no-console': ['error', { allow: ['warn'] }] },
  },
);
