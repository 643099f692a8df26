// Writing outputs all or nothing, without clobbering another run's files.
//   One file (a name the user chose): written to a temporary file beside it, then renamed over it.
//   A set of files (a run's samples and grid): written into a temporary folder inside the output
//   folder, then linked into place under names no other file has. When a name is taken (an
//   earlier or a concurrent run), the whole set takes the next free run number instead:
//   grid.png, grid-run2.png, grid-run3.png, ... (every file of one run has the same number).
//   On any failure or cancellation nothing of the run is left: no file, no temporary folder, and
//   no folder that the run created. A run killed outright (SIGKILL, a power cut) cannot clean up:
//   its temporary folder names its host and process, and the next run into that folder removes
//   it once that process has ended.
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, mkdtemp, open, readdir, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** An output path that cannot be written; the message names it and says what to do. */
export class OutputError extends Error {
  constructor(readonly path: string, message: string) {
    super(message);
    this.name = 'OutputError';
  }
}

const TEMP_PREFIX = '.pmf-partial-';
/** This machine in a temporary folder's name (a folder shared between machines keeps theirs). */
const HOST = hostname().replace(/[^A-Za-z0-9.]/g, '_') || 'host';
/** .pmf-partial-HOST-PID-XXXXXX, XXXXXX from mkdtemp. */
const OURS = new RegExp(`^${TEMP_PREFIX.replace('.', '\\.')}${HOST.replace(/\./g, '\\.')}-(\\d+)-[^-]{6}$`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return code(e) !== 'ESRCH'; // EPERM: it runs, as another user
  }
}

/**
 * Removes the temporary folders in `dir` that runs on this machine left when they were killed
 * outright (their process has ended). Best effort: a folder that cannot be removed stays.
 */
export async function sweepAbandoned(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = OURS.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    try {
      await rm(join(dir, name), { recursive: true, force: true });
      removed.push(join(dir, name));
    } catch {
      /* another run is removing it, or it is not ours to remove */
    }
  }
  return removed;
}

/** Most run numbers tried in one folder before giving up. */
const MAX_RUNS = 10_000;

function code(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

/**
 * A file-system failure as a sentence that names the path and says what to do, without the
 * system's error codes. `hint` completes "... or <hint>" (default: choose another location).
 */
export function describeFsError(e: unknown, path: string, hint = 'choose another location'): Error {
  if (e instanceof OutputError) return e;
  switch (code(e)) {
    case 'EACCES':
    case 'EPERM':
      return new OutputError(path, `Cannot write ${path}: permission denied. Check its permissions, or ${hint}.`);
    case 'EROFS':
      return new OutputError(path, `Cannot write ${path}: the file system is read-only. ${cap(hint)}.`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new OutputError(path, `Cannot write ${path}: the disk is full (or the quota is used up). Free some space, or ${hint}.`);
    case 'ENAMETOOLONG':
      return new OutputError(path, `Cannot write ${path}: the path is too long. ${cap(hint)} with a shorter path.`);
    case 'ENOENT':
      return new OutputError(path, `Cannot write ${path}: the folder ${dirname(path)} does not exist. Create it, or ${hint}.`);
    case 'ENOTDIR':
      return new OutputError(path, `Cannot write ${path}: part of that path is a file, not a folder. ${cap(hint)}.`);
    case 'EISDIR':
      return new OutputError(path, `${path} is a folder, so no file can be saved under that name: rename or remove the folder, or ${hint}.`);
    default:
      return e instanceof Error ? e : new Error(String(e));
  }
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Writes one file all or nothing: the bytes go to a temporary file beside `path`, which is then
 * renamed over it (an existing file of that name is replaced in one step; a folder is not).
 */
export async function writeFileAtomic(path: string, data: Uint8Array, hint?: string): Promise<void> {
  const existing = await stat(path).catch(() => undefined);
  if (existing && !existing.isFile()) {
    throw new OutputError(path, `${path} is ${existing.isDirectory() ? 'a folder' : 'not a regular file'}, so the file cannot be ` +
      `saved under that name: give a file name, or ${hint ?? 'choose another location'}.`);
  }
  const tmp = join(dirname(path), `${TEMP_PREFIX}${basename(path)}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(tmp, data, { flag: 'wx' });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw describeFsError(e, path, hint);
  }
}

/**
 * Fails early (before the work that makes the files) when `dir` is a file, or when one of
 * `names` in it is a folder or the like; StagedFiles checks the same again when it writes.
 */
export async function checkFolderFor(dir: string, names: readonly string[], hint = 'choose another folder'): Promise<void> {
  const st = await stat(dir).catch(() => undefined);
  if (!st) return;
  if (!st.isDirectory()) throw new OutputError(dir, `${dir} is a file, not a folder: rename or remove it, or ${hint}.`);
  for (const name of names) {
    const path = join(dir, name);
    const s = await lstat(path).catch(() => undefined);
    if (s && !s.isFile() && !s.isSymbolicLink()) throw notAFile(path, s.isDirectory(), name, hint);
  }
}

function notAFile(path: string, isFolder: boolean, name: string, hint: string): OutputError {
  return new OutputError(path, `${path} is ${isFolder ? 'a folder' : 'not a regular file'}, so ${name} cannot be saved there: ` +
    `rename or remove it, or ${hint}.`);
}

/** `name` for run 1, `name` with `-runK` before its extension for run K > 1. */
export function runName(name: string, run: number): string {
  if (run === 1) return name;
  const dot = name.lastIndexOf('.');
  return dot > 0 ? `${name.slice(0, dot)}-run${run}${name.slice(dot)}` : `${name}-run${run}`;
}

export interface CommittedFiles {
  /** The files as written (absolute paths, in the order they were added). */
  files: string[];
  /** 1 when the plain names were free; else the run number the names carry (-runK). */
  run: number;
}

/**
 * A set of files written all or nothing into one folder. add() writes into a temporary folder
 * inside it; commit() moves them into place; discard() (or a failed commit) leaves nothing.
 */
export class StagedFiles {
  private readonly names: string[] = [];
  private done = false;

  private constructor(readonly dir: string, private readonly staging: string, private readonly created: string | undefined,
    private readonly hint: string) {}

  /** Creates `dir` (and its parents) when missing, and a temporary folder in it. */
  static async open(dir: string, opts: { hint?: string } = {}): Promise<StagedFiles> {
    const hint = opts.hint ?? 'choose another folder';
    for (let attempt = 0; ; attempt++) {
      let created: string | undefined;
      try {
        const st = await stat(dir).catch(() => undefined);
        if (st && !st.isDirectory()) {
          throw new OutputError(dir, `${dir} is a file, not a folder: rename or remove it, or ${hint}.`);
        }
        created = await mkdir(dir, { recursive: true });
        if (!created) await sweepAbandoned(dir);
        return new StagedFiles(dir, await mkdtemp(join(dir, `${TEMP_PREFIX}${HOST}-${process.pid}-`)), created, hint);
      } catch (e) {
        // another run that had created the folder removed it (it failed) just now: once more
        if (code(e) === 'ENOENT' && attempt < 2) continue;
        await removeCreated(dir, created);
        throw code(e) === 'EEXIST' || code(e) === 'ENOTDIR'
          ? new OutputError(dir, `${dir} cannot be a folder: it, or part of its path, is a file. Rename that file, or ${hint}.`)
          : describeFsError(e, dir, hint);
      }
    }
  }

  /** Writes one file of the set (under its plain name, into the temporary folder). */
  async add(name: string, data: Uint8Array): Promise<void> {
    if (this.names.includes(name)) throw new Error(`${name} is in this set of files twice`);
    // The name is taken before the write, so files keep the order add() was called in even when
    // several writes run at once, and a second add of the same name is refused while the first runs.
    this.names.push(name);
    try {
      await writeFile(join(this.staging, name), data, { flag: 'wx' });
    } catch (e) {
      this.names.splice(this.names.indexOf(name), 1);
      throw describeFsError(e, join(this.dir, name), this.hint);
    }
  }

  /**
   * Moves the files into the folder under the first run number whose names are all free. Each
   * name is claimed with a hard link, which fails when the name exists, so concurrent runs
   * cannot take the same names; file systems without hard links claim a name by creating it
   * exclusively and renaming over it. `key` (default: the first file added) is claimed first:
   * the run that gets it has that run number, and the others move on to the next one (without a
   * name every run of the folder shares, two runs could each take a name of the other's and
   * both give the number up).
   */
  async commit(key = this.names[0]): Promise<CommittedFiles> {
    if (this.done) throw new Error('these files were committed or discarded already');
    try {
      const first = Math.max(0, this.names.indexOf(key));
      const order = [first, ...this.names.keys()].filter((i, k, all) => all.indexOf(i) === k);
      let existing = new Set(await readdir(this.dir));
      let links = true;
      for (let run = 1; run <= MAX_RUNS; run++) {
        const finals = this.names.map((n) => runName(n, run));
        const taken = finals.filter((f) => existing.has(f));
        if (taken.length) {
          for (const f of taken) await this.checkTakenByFile(f);
          continue;
        }
        const placed: string[] = [];
        let clash: string | undefined;
        for (const i of order) {
          const src = join(this.staging, this.names[i]);
          const dst = join(this.dir, finals[i]);
          try {
            if (links) {
              try {
                await link(src, dst);
              } catch (e) {
                if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK'].includes(code(e) ?? '')) throw e;
                links = false;
              }
            }
            if (!links) {
              await (await open(dst, 'wx')).close();
              placed.push(dst);
              await rename(src, dst);
              continue;
            }
            placed.push(dst);
          } catch (e) {
            if (code(e) !== 'EEXIST') {
              await Promise.all(placed.map((p) => unlink(p).catch(() => {})));
              throw describeFsError(e, dst, this.hint);
            }
            clash = finals[i];
            break;
          }
        }
        if (clash === undefined) {
          this.done = true;
          await rm(this.staging, { recursive: true, force: true }).catch(() => {});
          return { files: finals.map((f) => join(this.dir, f)), run };
        }
        // a concurrent run took one of these names first: give back ours, try the next number
        await Promise.all(placed.map((p) => unlink(p).catch(() => {})));
        await this.checkTakenByFile(clash);
        existing = new Set(await readdir(this.dir));
      }
      throw new OutputError(this.dir, `${this.dir} has the names of ${MAX_RUNS} runs already: ${this.hint}.`);
    } catch (e) {
      await this.discard();
      throw e;
    }
  }

  /** A name taken by a file (or a link) is another run's: fine. A folder or the like is in the way. */
  private async checkTakenByFile(name: string): Promise<void> {
    const path = join(this.dir, name);
    const st = await lstat(path).catch(() => undefined);
    if (!st || st.isFile() || st.isSymbolicLink()) return;
    throw notAFile(path, st.isDirectory(), name, this.hint);
  }

  /** Removes the temporary folder and the folders open() created (if nothing else is in them). */
  async discard(): Promise<void> {
    this.done = true;
    await rm(this.staging, { recursive: true, force: true }).catch(() => {});
    await removeCreated(this.dir, this.created);
  }
}

/** Removes the empty folders from `dir` up to `created` (the first folder mkdir created), deepest first. */
async function removeCreated(dir: string, created: string | undefined): Promise<void> {
  if (!created) return;
  for (let d = dir; ; d = dirname(d)) {
    try {
      await rmdir(d); // fails when another run has put something there: then it stays
    } catch {
      return;
    }
    if (d === created || dirname(d) === d) return;
  }
}
