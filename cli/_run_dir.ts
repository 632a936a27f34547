/**
 * The run folder of `train`, checked before any heavy work: it can be written, its disk has
 * room for the checkpoints, and a start that fails leaves no empty run folder behind.
 *
 * @module
 */

import { statfs } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { CHECKPOINT_POINTER } from "../train/checkpoint.ts";
import { RUN_CONFIG_FILE } from "./_config.ts";
import { shellArg, UsageError } from "./_options.ts";

/** Bytes kept free beyond the checkpoints: metrics, plot, the pointer, the file system. */
const MARGIN_BYTES = 16 * 2 ** 20;

/** A run folder made writable for a run; {@link RunFolder.discard} undoes a failed start. */
export class RunFolder {
  /** The folder. */
  readonly dir: string;
  /** Folders this run created, outermost first (none when resuming). */
  readonly #created: string[];

  private constructor(dir: string, created: string[]) {
    this.dir = dir;
    this.#created = created;
  }

  /**
   * Creates (or, resuming, opens) the run folder and proves it writable. A new run refuses a
   * folder that already holds a run. `option` names the flag in errors.
   */
  static async open(dir: string, resuming: boolean, option: string): Promise<RunFolder> {
    const created: string[] = [];
    if (!resuming) {
      if (await exists(join(dir, RUN_CONFIG_FILE))) {
        throw new UsageError(
          `${option} ${dir} already holds a run: continue it with --resume ${shellArg(dir)}, ` +
            `or choose another ${option}`,
          "train",
        );
      }
      const file = await fileOnTheWay(dir);
      if (file !== null) {
        // The system's 'File exists (os error 17)' or 'Not a directory' named no file.
        throw new Error(
          `${option} ${dir}: cannot create the run folder: ${file} is a file, not a folder`,
        );
      }
      created.push(...(await missingFolders(dir)));
      try {
        await Deno.mkdir(dir, { recursive: true });
      } catch (error) {
        throw new Error(
          `${option} ${dir}: cannot create the run folder: ${(error as Error).message}`,
        );
      }
    }
    const folder = new RunFolder(dir, created);
    const probe = join(dir, `.write-test-${Deno.pid}`);
    try {
      await Deno.writeTextFile(probe, "");
      await Deno.remove(probe);
    } catch (error) {
      await folder.discard();
      throw new Error(
        `${option} ${dir}: the run folder is not writable: ${(error as Error).message}`,
      );
    }
    return folder;
  }

  /**
   * Throws (after {@link RunFolder.discard}) unless the folder's disk has `bytes` free plus a
   * margin; `what` says what they are for.
   */
  async requireSpace(bytes: number, what: string): Promise<void> {
    let free: number;
    try {
      const s = await statfs(this.dir);
      free = s.bavail * s.bsize;
    } catch {
      return; // Not every platform reports free space; the writes themselves still check.
    }
    if (free >= bytes + MARGIN_BYTES) return;
    await this.discard();
    throw new Error(
      `${this.dir}: only ${megabytes(free)} free on its disk; the run needs about ` +
        `${megabytes(bytes + MARGIN_BYTES)} (${what})`,
    );
  }

  /**
   * After a failed start: removes the folders this run created, unless a checkpoint was
   * written (then there is something to resume).
   */
  async discard(): Promise<void> {
    if (this.#created.length === 0) return;
    if (await exists(join(this.dir, CHECKPOINT_POINTER))) return;
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    for (const d of this.#created.toReversed()) await Deno.remove(d).catch(() => {});
  }
}

/**
 * Throws a usage error of `command` naming `option` when `path`, or the nearest of its
 * ancestors that exists, is a file: creating the folder would fail only later, with the
 * system's 'File exists' or 'Not a directory', after the work before it was done.
 */
export async function requireFolderPath(
  path: string,
  option: string,
  command: string,
): Promise<void> {
  const file = await fileOnTheWay(path);
  if (file !== null) {
    throw new UsageError(`${option} ${path}: ${file} is a file, not a folder`, command);
  }
}

/** The path itself or its nearest existing ancestor when that is not a folder; else null. */
async function fileOnTheWay(path: string): Promise<string | null> {
  for (let p = resolve(path);; p = dirname(p)) {
    try {
      return (await Deno.stat(p)).isDirectory ? null : p;
    } catch (error) {
      const absent = error instanceof Deno.errors.NotFound ||
        error instanceof Deno.errors.NotADirectory;
      if (!absent || p === dirname(p)) throw error;
    }
  }
}

/**
 * The folders of `dir`'s path that do not exist yet, outermost first: what creating it makes,
 * and what undoing that removes.
 */
export async function missingFolders(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = resolve(dir); !(await exists(d)); d = dirname(d)) missing.unshift(d);
  return missing;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function megabytes(bytes: number): string {
  return `${Math.ceil(bytes / 2 ** 20).toLocaleString("en-US")} MB`;
}
