// The optimised model cache: onnxruntime's optimised graph of a model, with its weights already
// packed for the CPU's kernels, saved once and loaded instead of the model on later loads (the
// engine's sessions.ts decides when; docs/design.md, "Loading models").
//
// An entry is a folder named by its key (sha256 of the model's content key, onnxruntime's
// version, the provider, the CPU and the options: everything the optimised graph depends on)
// holding model.onnx (the graph, small), weights.bin (its initializers as external data, so a
// model over protobuf's 2 GB fits) and entry.json (the files' sizes and sampled hashes), written
// last. An entry is built in a staging folder and renamed into place whole, so a reader sees all
// of it or none of it; one whose files do not match entry.json (a disk that lost writes, a hand
// edit) is removed and built again. The most recently used entries are kept, up to a count and a
// byte budget.
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync,
  statSync, utimesSync, writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const ENTRY_MODEL = 'model.onnx';
export const ENTRY_WEIGHTS = 'weights.bin';
const MANIFEST = 'entry.json';
const FORMAT = 1;

export interface CacheLimits {
  /** Entries kept (the most recently used). */
  maxEntries: number;
  /** Bytes kept in all; the newest entry stays even when it alone is larger. */
  maxBytes: number;
  /** Models with fewer bytes of weights are not cached (they load in well under a second anyway). */
  minWeightBytes: number;
}

export const DEFAULT_LIMITS: CacheLimits = { maxEntries: 4, maxBytes: 20 * 2 ** 30, minWeightBytes: 32 * 2 ** 20 };

/**
 * The CLI's cache folder: $XDG_CACHE_HOME/pmf-lab, else ~/.cache/pmf-lab (on Windows
 * %LOCALAPPDATA%\pmf-lab\cache, on macOS ~/Library/Caches/pmf-lab). PMF_CACHE_DIR overrides it
 * (for the extension too: the engine client passes it on).
 */
export function cliCacheDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform, home = homedir()): string {
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'pmf-lab');
  if (platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'pmf-lab', 'cache');
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'pmf-lab');
  return join(home, '.cache', 'pmf-lab');
}

/** The engine's cache (PMF_CACHE_DIR, set by the client; 'off' or unset: none) and its limits from PMF_CACHE_* variables. */
export function cacheFromEnv(env: NodeJS.ProcessEnv = process.env): ModelCache | undefined {
  const dir = env.PMF_CACHE_DIR;
  if (!dir || dir === 'off') return undefined;
  const int = (v: string | undefined, fallback: number) => (v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) : fallback);
  return new ModelCache(join(dir, 'onnxruntime'), {
    maxEntries: Math.max(1, int(env.PMF_CACHE_MAX_ENTRIES, DEFAULT_LIMITS.maxEntries)),
    maxBytes: int(env.PMF_CACHE_MAX_BYTES, DEFAULT_LIMITS.maxBytes),
    minWeightBytes: int(env.PMF_CACHE_MIN_BYTES, DEFAULT_LIMITS.minWeightBytes),
  });
}

export interface FileRecord {
  size: number;
  hash: string;
}

interface Manifest {
  format: number;
  key: string;
  files: Record<string, FileRecord>;
  /** What the key was made of, for people looking into the folder. */
  about: Record<string, unknown>;
}

/** A file's size and the sha256 of its first and last 64 KB and 14 chunks between (a torn or edited file shows). */
export function fileRecord(path: string): FileRecord {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    const size = fstatSync(fd).size;
    const h = createHash('sha256');
    const chunk = 1 << 16;
    const buf = new Uint8Array(chunk);
    const n = size <= 16 * chunk ? 1 : 16;
    for (let i = 0; i < n; i++) {
      const at = n === 1 ? 0 : Math.floor(((size - chunk) * i) / (n - 1));
      for (let done = 0, want = Math.min(n === 1 ? size : chunk, size); done < want;) {
        const r = readSync(fd, buf, 0, Math.min(chunk, want - done), at + done);
        if (r === 0) break;
        h.update(buf.subarray(0, r));
        done += r;
      }
    }
    return { size, hash: h.digest('hex') };
  } finally {
    closeSync(fd);
  }
}

function folderBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    if (f.isFile()) n += statSync(join(dir, f.name)).size;
  }
  return n;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** A new entry being written: onnxruntime saves into `dir`; commit() publishes it, discard() drops it. */
export interface Staging {
  dir: string;
  modelPath: string;
  commit(about: Record<string, unknown>): string;
  discard(): void;
}

export class ModelCache {
  constructor(readonly root: string, readonly limits: CacheLimits = DEFAULT_LIMITS) {}

  /** The key of an entry: sha256 of everything the optimised model depends on. */
  static key(parts: Record<string, unknown>): string {
    return createHash('sha256').update(JSON.stringify({ format: FORMAT, ...parts })).digest('hex');
  }

  private entryDir(key: string): string {
    return join(this.root, key);
  }

  /**
   * The model path of a complete, intact entry for `key` (marked as just used), or undefined.
   * An entry that does not match its manifest is removed, so it is built again.
   */
  lookup(key: string): string | undefined {
    const dir = this.entryDir(key);
    if (!existsSync(dir)) return undefined;
    if (!this.intact(dir, key)) {
      this.remove(key);
      return undefined;
    }
    const now = new Date();
    try {
      utimesSync(join(dir, MANIFEST), now, now);
    } catch {
      // read-only cache: still usable
    }
    return join(dir, ENTRY_MODEL);
  }

  private intact(dir: string, key: string): boolean {
    try {
      const m = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as Manifest;
      if (m.format !== FORMAT || m.key !== key || !m.files[ENTRY_MODEL]) return false;
      for (const [name, rec] of Object.entries(m.files)) {
        const now = fileRecord(join(dir, name));
        if (now.size !== rec.size || now.hash !== rec.hash) return false;
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Removes an entry (a broken one, or one onnxruntime could not load). */
  remove(key: string): void {
    try {
      rmSync(this.entryDir(key), { recursive: true, force: true });
    } catch {
      // in use on Windows: the next eviction tries again
    }
  }

  /** A staging folder for a new entry of `key`. */
  stage(key: string): Staging {
    mkdirSync(this.root, { recursive: true });
    const dir = join(this.root, `.staging-${process.pid}-${randomBytes(6).toString('hex')}`);
    mkdirSync(dir);
    const discard = () => rmSync(dir, { recursive: true, force: true });
    return {
      dir,
      modelPath: join(dir, ENTRY_MODEL),
      discard,
      commit: (about) => {
        const files: Record<string, FileRecord> = {};
        for (const name of readdirSync(dir)) files[name] = fileRecord(join(dir, name));
        if (!files[ENTRY_MODEL]) throw new Error(`onnxruntime wrote no ${ENTRY_MODEL}`);
        const manifest: Manifest = { format: FORMAT, key, files, about };
        writeFileSync(join(dir, MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
        const target = this.entryDir(key);
        try {
          renameSync(dir, target);
        } catch (e) {
          // another engine published the same entry meanwhile (or a broken one is in the way)
          if (this.lookup(key)) {
            discard();
          } else {
            this.remove(key);
            try {
              renameSync(dir, target);
            } catch {
              discard();
              throw e;
            }
          }
        }
        this.evict(key);
        return join(target, ENTRY_MODEL);
      },
    };
  }

  /** Entries beyond the limits go, least recently used first (`keep` stays); staging folders of ended processes go. */
  evict(keep?: string): void {
    let names: string[];
    try {
      names = readdirSync(this.root);
    } catch {
      return;
    }
    const entries: Array<{ key: string; used: number; bytes: number }> = [];
    for (const name of names) {
      const dir = join(this.root, name);
      const staging = /^\.staging-(\d+)-/.exec(name);
      if (staging) {
        if (!alive(Number(staging[1]))) rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      try {
        entries.push({ key: name, used: statSync(join(dir, MANIFEST)).mtimeMs, bytes: folderBytes(dir) });
      } catch {
        this.remove(name); // no manifest: not an entry
      }
    }
    entries.sort((a, b) => (a.key === keep ? -1 : b.key === keep ? 1 : b.used - a.used));
    let bytes = 0;
    entries.forEach((e, i) => {
      bytes += e.bytes;
      if (i > 0 && (i >= this.limits.maxEntries || bytes > this.limits.maxBytes)) this.remove(e.key);
    });
  }

  /** Keys of the entries present (tests, and people clearing the cache). */
  keys(): string[] {
    try {
      return readdirSync(this.root).filter((n) => /^[0-9a-f]{64}$/.test(n));
    } catch {
      return [];
    }
  }
}
