/**
 * Atomic file replacement: readers see either the old file or the complete new
 * one, never a half-written file, even if the process dies mid-write.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";

const encoder = new TextEncoder();

/**
 * Writes `data` to `path` atomically: the bytes go to a uniquely named temporary
 * file in the same folder (so the final rename stays on one file system and is
 * atomic), are flushed to disk with fsync, and the temporary file is then renamed
 * over `path`. On any error the temporary file is removed and the error rethrown;
 * `path` is left untouched.
 *
 * @param path Destination file; its folder must exist.
 * @param data Bytes, or a string written as UTF-8.
 *
 * @example Replace a file atomically
 * ```ts
 * import { writeFileAtomic } from "./_atomic.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/state.json`, '{"epoch":1}');
 * await writeFileAtomic(`${dir}/state.json`, '{"epoch":2}');
 * assert.equal(await Deno.readTextFile(`${dir}/state.json`), '{"epoch":2}');
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const dir = dirname(path);
  // Dot-prefixed so directory listings and globbing tools skip a leftover after a
  // hard crash; pid + random suffix keeps concurrent writers apart.
  const tmp = join(
    dir,
    `.${basename(path)}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`,
  );
  await requireWritablePath(path, dir);
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true });
    await writeAll(file, bytes);
    // Without fsync, a power loss after the rename can leave an empty file under
    // the final name on some file systems (ext4 delayed allocation).
    await file.sync();
    file.close();
    file = undefined;
    await Deno.rename(tmp, path);
  } catch (error) {
    try {
      file?.close();
    } catch {
      // Already closed; nothing to do.
    }
    await Deno.remove(tmp).catch(() => {});
    throw await explainWriteError(error, path);
  }
  await syncDirectory(dir);
}

/**
 * Throws, naming `path`, when it is a folder (the rename onto it failed naming only the
 * temporary file, which had been written beside the folder) or when its folder `dir` does not
 * exist (the error named the temporary file, not the path asked for).
 */
async function requireWritablePath(path: string, dir: string): Promise<void> {
  if (await kindOf(path) === "folder") {
    throw new Deno.errors.IsADirectory(`${path} is a folder: give a file path to write`);
  }
  const missing = await missingFolder(path, dir);
  if (missing) throw missing;
}

/** What is at `p`: a folder, a file, or nothing (null). */
async function kindOf(p: string): Promise<"folder" | "file" | null> {
  try {
    return (await Deno.stat(p)).isDirectory ? "folder" : "file";
  } catch (error) {
    // A path below a file is "not a directory": there is nothing there either.
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw namePath(error, p);
  }
}

/** The error for writing `path` when its folder `dir` is not a folder (else null). */
async function missingFolder(path: string, dir: string): Promise<Error | null> {
  const parent = await kindOf(dir);
  if (parent === "folder") return null;
  const problem = parent === null ? "does not exist" : "is a file";
  return new Deno.errors.NotFound(`${path}: cannot write it: the folder ${dir} ${problem}`);
}

/**
 * The error to report for a failed write of `path`: where its folder has gone (removed or
 * unmounted during a run), that, naming the folder; else `error` named by {@link namePath}.
 *
 * @example A folder removed before the write
 * ```ts
 * import { explainWriteError } from "./_atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.remove(dir);
 * const error = await Deno.writeTextFile(`${dir}/a.json`, "{}").catch((e) => e);
 * console.log((await explainWriteError(error, `${dir}/a.json`) as Error).message);
 * // <dir>/a.json: cannot write it: the folder <dir> does not exist
 * ```
 */
export async function explainWriteError(error: unknown, path: string): Promise<unknown> {
  if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
    const missing = await missingFolder(path, dirname(path)).catch(() => null);
    if (missing) return missing;
  }
  return namePath(error, path);
}

/**
 * Deno's message for an OS error on a path: `<cause> (os error N): <call> '<path>'`, possibly
 * with ` -> '<path>'`: the path it names may be a temporary file the caller never sees.
 */
const OS_ERROR_ON_PATH = /^(.* \(os error \d+\)): [a-z_]+ '.*'$/s;

/**
 * `error` with `path` leading its message (the same object, so its class and stack stay):
 * the operating system's "No space left on device (os error 28)" names no file, and Deno's
 * "Read-only file system (os error 30): open '<temporary file>'" names the wrong one; both read
 * `<path>: <cause> (os error N)`.
 */
export function namePath(error: unknown, path: string): unknown {
  if (!(error instanceof Error)) return error;
  const onPath = OS_ERROR_ON_PATH.exec(error.message);
  if (onPath) error.message = `${path}: ${onPath[1]}`;
  else if (!error.message.includes(path)) error.message = `${path}: ${error.message}`;
  return error;
}

/** The temporary name pattern of {@link writeFileAtomic}: `.<name>.<pid>.<8 hex>.tmp`. */
const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Removes the temporary files that {@link writeFileAtomic} calls of other processes left in
 * `dir` when they died mid-write (a crash, SIGKILL, power loss). Files of this process are
 * kept: one of its writes may be in flight.
 *
 * @param dir The folder to clean; a missing folder is fine.
 * @returns The names removed.
 *
 * @example Clean a folder after a crash
 * ```ts
 * import { removeStaleTemps } from "./_atomic.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/.plot.svg.1.0123abcd.tmp`, "half a plot");
 * assert.deepEqual(await removeStaleTemps(dir), [".plot.svg.1.0123abcd.tmp"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = e.isFile ? TEMP_NAME.exec(e.name) : null;
      if (!m || Number(m[1]) === Deno.pid) continue;
      await Deno.remove(join(dir, e.name)).catch(() => {});
      removed.push(e.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return removed.sort();
}

/**
 * Writes every byte of `bytes` to `file`; `write` may return after a partial
 * write, so loop until done.
 *
 * @param file An open, writable file.
 * @param bytes The bytes to write at the file's current position.
 *
 * @example Write a whole buffer
 * ```ts
 * import { writeAll } from "./_atomic.ts";
 * import assert from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile();
 * using file = await Deno.open(path, { write: true, truncate: true });
 * await writeAll(file, new TextEncoder().encode("line\n"));
 * assert.equal(await Deno.readTextFile(path), "line\n");
 * await Deno.remove(path);
 * ```
 */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    offset += await file.write(bytes.subarray(offset));
  }
}

/** Best effort: makes the rename itself durable. Not every platform can open a folder. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Deno.FsFile | undefined;
  try {
    handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // Windows and some file systems refuse; the rename is still atomic there.
  } finally {
    try {
      handle?.close();
    } catch {
      // Ignore: closing a handle we failed to sync.
    }
  }
}
