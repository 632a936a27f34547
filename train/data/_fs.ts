/**
 * File-system probes for data detection.
 *
 * @module
 */

/** Whether `path` is a file (false when it does not exist). */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Whether `path` is a folder (false when it does not exist). */
export async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/** {@link folderProblem}'s words for a file. */
export const FILE_NOT_FOLDER = "is a file, not a folder";

/**
 * What keeps `path` from being read as a folder: "does not exist", "is a file, not a folder",
 * or the system's reason (no permission); null when it is a folder. For messages that start
 * with the path, where Deno's own name no path.
 */
export async function folderProblem(path: string): Promise<string | null> {
  try {
    return (await Deno.stat(path)).isDirectory ? null : FILE_NOT_FOLDER;
  } catch (error) {
    const absent = error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.NotADirectory;
    return absent ? "does not exist" : `cannot be read (${(error as Error).message})`;
  }
}
