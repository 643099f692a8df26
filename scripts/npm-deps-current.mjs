#!/usr/bin/env node
// Says whether node_modules matches package-lock.json, without npm and in a few milliseconds,
// so scripts/setup.sh runs `npm ci` only when it would change something:
//   node scripts/npm-deps-current.mjs     exit 0: up to date; exit 1: the reason on stderr
// It compares npm's own record of what it installed (node_modules/.package-lock.json) with the
// lockfile, entry by entry (optional packages for other platforms are absent by design), and
// checks that each installed package is still on disk.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fail = (why) => {
  process.stderr.write(`npm-deps: ${why}\n`);
  process.exit(1);
};
const read = (p) => JSON.parse(readFileSync(join(root, p), 'utf8'));

if (!existsSync(join(root, 'node_modules'))) fail('no node_modules yet');
let hidden;
try {
  hidden = read('node_modules/.package-lock.json').packages ?? {};
} catch {
  fail('node_modules/.package-lock.json is missing or unreadable (installed by another tool?)');
}
const lock = read('package-lock.json').packages ?? {};
for (const [key, want] of Object.entries(lock)) {
  if (key === '' || !key.startsWith('node_modules/')) continue;
  const have = hidden[key];
  if (!have) {
    if (want.optional) continue; // another platform's binary package
    fail(`${key} is not installed`);
  }
  if (have.version !== want.version || (want.integrity && have.integrity !== want.integrity)) {
    fail(`${key} is ${have.version}, the lockfile wants ${want.version}`);
  }
}
for (const key of Object.keys(hidden)) {
  if (!(key in lock)) fail(`${key} is installed but not in package-lock.json`);
  if (!existsSync(join(root, key, 'package.json'))) fail(`${key} is recorded but gone from disk`);
}
