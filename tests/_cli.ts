/**
 * Running the command line as a subprocess, for the CLI tests.
 */

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** What a finished run printed, and its exit status. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The `deno run -A cli.ts …` command with a quiet, colourless environment. */
export function cliCommand(args: string[], piped = true): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { NO_COLOR: "1", XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: piped ? "piped" : "null",
    stderr: piped ? "piped" : "null",
  });
}

/** Runs `cli.ts` with `args` to the end. */
export async function cli(...args: string[]): Promise<CliResult> {
  const out = await cliCommand(args).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** A running `cli.ts` subprocess whose stdout is watched. */
export interface RunningCli {
  /** The process. */
  child: Deno.ChildProcess;
  /** Resolves once stdout (so far, or later) matches `pattern`; false if it ends first. */
  waitFor(pattern: RegExp): Promise<boolean>;
  /** Waits for the end; everything printed, and the exit status. */
  finish(): Promise<CliResult>;
}

/** Starts `cli.ts` with `args`, for sending it signals mid-run. */
export function startCli(args: string[]): RunningCli {
  const child = cliCommand(args).spawn();
  const decoder = new TextDecoder();
  const reader = child.stdout.getReader();
  let stdout = "";
  let ended = false;
  const read = async (): Promise<void> => {
    const { value, done } = await reader.read();
    if (done) ended = true;
    else stdout += decoder.decode(value, { stream: true });
  };
  return {
    child,
    async waitFor(pattern) {
      while (!pattern.test(stdout)) {
        if (ended) return false;
        await read();
      }
      return true;
    },
    async finish() {
      while (!ended) await read();
      const stderr = decoder.decode(
        new Uint8Array(await new Response(child.stderr).arrayBuffer()),
      );
      const { code } = await child.status;
      return { code, stdout, stderr };
    },
  };
}

/** Asserts-friendly: whether `stderr` is one `error:` line (plus an optional `hint:` line). */
export function isOneErrorLine(stderr: string): boolean {
  const lines = stderr.trim().split("\n");
  return /^error: /.test(lines[0]) && lines.length <= 2 &&
    (lines.length === 1 || /^hint: /.test(lines[1]));
}

/** Options of a tiny synthetic run: 16-pixel images and crops, the narrowest net. */
export function tinySynthetic(trainSize: number, valSize: number, batchSize: number): string[] {
  return [
    ...["--image-size", "16", "--crop", "16", "--width", "0.0625"],
    ...["--train-size", String(trainSize), "--val-size", String(valSize)],
    ...["--batch-size", String(batchSize)],
  ];
}
