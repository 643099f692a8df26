// ESLint for the TypeScript (npm run lint, run by the full test command): typescript-eslint's
// type-checked recommended rules. The few turned off say why.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.e2e/**', 'tmp/**', 'trainer/**', 'shared/**', '**/*.mjs', '**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: ['tsconfig.json', 'tsconfig.webview.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // async methods that satisfy an async interface (ByteSource.read, VS Code's serializers)
      // without awaiting anything themselves
      '@typescript-eslint/require-await': 'off',
      // a leading underscore marks a value destructured away on purpose
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // passing on a caught value as it is (Promise.reject(e) in a catch), as only-throw-error allows `throw e`
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // regexes that find control characters on purpose (terminal escaping, binary detection, the
    // test that no raw ones reach the terminal)
    files: ['src/core/terminalText.ts', 'src/core/checkpoint/inspect/detect.ts', 'test/cli/inspect.test.ts'],
    rules: { 'no-control-regex': 'off' },
  },
  {
    // node:test's test() returns a promise its runner awaits
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
  {
    // code that runs in the browser page through Playwright's evaluate(): the page's DOM is untyped here
    files: ['test/e2e/**/*.ts', 'bench/visualizer.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
