/**
 * Output nobody reads any more: `train … | head`, a `tee` that died, a terminal closed under a
 * run. Writing there fails (a broken pipe, or an I/O error on a hung-up terminal), and that
 * failure ended a run of hours on a progress line. The command line drops such output instead:
 * the run goes on, its record is in the run folder's metrics files and checkpoints.
 *
 * @module
 */

/** Whether `error` says the stream's reader is gone (EPIPE, or EIO from a hung-up terminal). */
export function readerGone(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    (error instanceof Error && /\(os error (5|32)\)/.test(error.message));
}

/**
 * Makes the console's writers drop their output, from the first write whose reader is gone,
 * rather than throw into the command that wrote it. Other write errors still throw.
 */
export function dropOutputWithoutReaders(): void {
  for (const name of ["log", "info", "debug", "warn", "error"] as const) {
    const write = console[name].bind(console);
    let gone = false;
    console[name] = (...args: unknown[]) => {
      if (gone) return;
      try {
        write(...args);
      } catch (error) {
        if (!readerGone(error)) throw error;
        gone = true;
      }
    };
  }
}
