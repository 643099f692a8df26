// Execution-provider policy.
//
// `auto` tries CUDA when onnxruntime-node's CUDA provider library is installed, then WebGPU
// when a hardware GPU is present, then CPU. It never prefers a software GPU (Mesa's
// lavapipe, SwiftShader) over the CPU provider: those are slower than the CPU provider.
// A setting forces one provider; if it cannot run, loading fails with a clear message.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Provider, ProviderReport } from './protocol';

/** onnxruntime-node's native binding folder, where provider libraries live. */
function bindingDir(): string | undefined {
  try {
    const pkg = require.resolve('onnxruntime-node/package.json');
    const dir = join(dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

function cudaStatus(): { usable: boolean; reason: string } {
  const dir = bindingDir();
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  if (dir && existsSync(join(dir, lib))) return { usable: true, reason: `CUDA provider library found (${lib})` };
  return {
    usable: false,
    reason: 'onnxruntime-node was installed without its CUDA provider; install it with ' +
      '`ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js` (see README, "CUDA")',
  };
}

/** Device nodes that show a hardware GPU with a kernel driver on Linux. */
export function linuxGpuDevices(devRoot = '/dev'): string[] {
  const found: string[] = [];
  try {
    for (const f of readdirSync(join(devRoot, 'dri'))) if (f.startsWith('renderD')) found.push(`${devRoot}/dri/${f}`);
  } catch {
    /* no DRM devices */
  }
  for (const f of ['nvidia0', 'dxg']) if (existsSync(join(devRoot, f))) found.push(`${devRoot}/${f}`);
  return found;
}

function webgpuStatus(): { usable: boolean; hardware: boolean; reason: string } {
  if (process.platform === 'darwin') return { usable: true, hardware: true, reason: 'Metal' };
  if (process.platform === 'win32') return { usable: true, hardware: true, reason: 'Direct3D 12' };
  const devices = linuxGpuDevices();
  if (devices.length > 0) return { usable: true, hardware: true, reason: `Vulkan on ${devices.join(', ')}` };
  return {
    usable: true,
    hardware: false,
    reason: 'no GPU device (/dev/dri/renderD*, /dev/nvidia0, /dev/dxg): WebGPU would run on a software ' +
      'Vulkan driver, slower than the CPU provider',
  };
}

export function providerReport(): ProviderReport {
  const cuda = cudaStatus();
  const webgpu = webgpuStatus();
  const autoOrder: Provider[] = [];
  if (cuda.usable) autoOrder.push('cuda');
  if (webgpu.usable && webgpu.hardware) autoOrder.push('webgpu');
  autoOrder.push('cpu');
  return {
    available: {
      cuda,
      webgpu: { usable: webgpu.usable, reason: webgpu.reason },
      cpu: { usable: true, reason: 'always available' },
    },
    autoOrder,
  };
}

/** onnxruntime-node execution-provider option for a provider. */
export function executionProviders(p: Provider): string[] {
  return [p];
}
