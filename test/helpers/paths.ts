// Paths the TypeScript tests share (they run from out/test/... after `npm run compile`).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '..', '..', '..');
export const ENGINE = join(REPO, 'dist', 'engine.js');
export const CLI = join(REPO, 'dist', 'cli.js');
export const FASHION = join(REPO, 'models', 'fashion-mnist', 'model.onnx');
export const TOY = (pred: 'x' | 'u', dim: number) => join(REPO, 'models', 'swiss-roll', `${pred}-D${dim}.onnx`);

export function requireBuilt(): void {
  if (!existsSync(ENGINE) || !existsSync(CLI)) throw new Error('dist/ is missing: run `npm run build` first');
}

/** Whether Mesa's software Vulkan driver (lavapipe) is installed, for WebGPU without a GPU. */
export function hasLavapipe(): boolean {
  return ['/usr/share/vulkan/icd.d/lvp_icd.json', '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'].some(existsSync);
}

/** Small checkpoints for model variants the bundled models do not cover (trainer/tools/make_test_fixtures.py). */
export const FIXTURE = (name: 'image-u-prediction' | 'image-unconditional' | 'image-no-cfg') =>
  join(REPO, 'test', 'fixtures', 'models', `${name}.onnx`);

/** Small flow-matching checkpoints and the trainer's samples of them (trainer/tools/make_fm_fixtures.py). */
export const FM_FIXTURE = (name: 'fm-x-two-pass' | 'fm-v-cfg') => join(REPO, 'test', 'fixtures', 'models', `${name}.onnx`);
export const FM_EXPECTED = join(REPO, 'test', 'fixtures', 'models', 'fm-expected.json');
