// ESLint for the TypeScript (npm run lint, run by the full test command): typescript-eslint's
// strict type-checked rules. The few turned off or eased say why.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // wasm/: AssemblyScript (its v128 and load/store builtins are not TypeScript's), built by esbuild.mjs
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.e2e/**', 'tmp/**', 'trainer/**', 'shared/**', 'wasm/**', '**/*.mjs', '**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
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
      // numbers in messages (`sample ${i} of ${n}`) are what most templates here hold; everything
      // else (undefined, objects, arrays) still has to be made a string on purpose
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // tsconfig has no noUncheckedIndexedAccess, so an index or a destructured element is typed as
      // always there: the rule calls every bounds check (frames[p.frame] from a request, argv's
      // missing command) unnecessary, and following it would remove the checks
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // for the same reason `!` is how the code states what it has established (a Map entry set
      // just above, a find() a test needs to succeed); a runtime check in each place could not fail
      '@typescript-eslint/no-non-null-assertion': 'off',
      // `() => fn()` callbacks and `if (bad) return fail(...)` early exits in functions that return
      // nothing are the idiom here; a void value used anywhere else is still an error
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true }],
      // `T | void` is the return type of callbacks that may give nothing back (channel handlers, a
      // Port's post): `undefined` in its place would refuse functions typed as returning void
      '@typescript-eslint/no-invalid-void-type': 'off',
    },
  },
  {
    // regexes that find control characters on purpose (terminal escaping, binary detection, the
    // test that no raw ones reach the terminal)
    files: ['src/core/terminalText.ts', 'src/core/checkpoint/inspect/detect.ts', 'test/cli/inspect.test.ts'],
    rules: { 'no-control-regex': 'off' },
  },
  {
    // Equals<A, B> (the type-level test of the protocol's types) and el<T> (a typed getElementById)
    // use a type parameter once on purpose: that is how the one compares types and the other casts
    files: ['src/shared/protocol/common.ts', 'webview/shared/host.ts'],
    rules: { '@typescript-eslint/no-unnecessary-type-parameters': 'off' },
  },
  {
    // the fuzzer deletes fields of parsed headers on purpose, to make malformed files
    files: ['bench/fuzzInputs.ts'],
    rules: { '@typescript-eslint/no-dynamic-delete': 'off' },
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
