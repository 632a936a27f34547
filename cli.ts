/**
 * The command line: `train`, `eval`, `summary`, `prepare` and `bench`.
 *
 * ```sh
 * deno run -A cli.ts train                       # scaled AlexNet on built-in synthetic data
 * deno run -A cli.ts train --data cifar-10-batches-bin --epochs 30
 * deno run -A cli.ts train --data prepared --model full --ten-crop   # the paper's recipe
 * deno run -A cli.ts train --resume runs/2025-01-01T12-00-00
 * deno run -A cli.ts eval --checkpoint runs/2025-01-01T12-00-00 --ten-crop
 * deno run -A cli.ts summary --model full --devices 2
 * deno run -A cli.ts experiment --claim relu --preset quick   # the paper's Figure 1, measured
 * deno run -A cli.ts prepare --input imagenet/train --output prepared/train
 * deno run -A cli.ts <command> --help
 * ```
 *
 * @module
 */

import { benchCommand } from "./cli/bench.ts";
import { evalCommand } from "./cli/eval.ts";
import { experimentCommand } from "./cli/experiment.ts";
import { releaseDevices } from "./cli/_model.ts";
import { dropOutputWithoutReaders } from "./cli/_output.ts";
import { closest, type Command, parse, UsageError } from "./cli/_options.ts";
import { prepareCommand } from "./cli/prepare.ts";
import { summaryCommand } from "./cli/summary.ts";
import { trainCommand } from "./cli/train.ts";

export { UsageError } from "./cli/_options.ts";
export type { RunConfig } from "./cli/_config.ts";

const COMMANDS: Record<string, Command> = {
  train: trainCommand,
  eval: evalCommand,
  summary: summaryCommand,
  prepare: prepareCommand,
  bench: benchCommand,
  experiment: experimentCommand,
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    "AlexNet on WebGPU.",
    "",
    "Usage: deno run -A cli.ts <command> [options]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    "",
    "Run 'deno run -A cli.ts <command> --help' for a command's options. Errors are one line;",
    "--debug (with any command) adds the stack trace.",
  ].join("\n");
}

/**
 * Runs the command line; returns the exit status: 0 done, 1 an expected failure (bad data,
 * checkpoint, disk, device), 2 a usage error. Every failure is one `error: …` line naming
 * the file or option, and a hint where one helps; `--debug` (anywhere) adds the stack trace.
 */
export async function main(args: string[]): Promise<number> {
  const debug = args.includes("--debug");
  const [name, ...rest] = args.filter((a) => a !== "--debug");
  try {
    if (name === undefined || name === "-h" || name === "--help" || name === "help") {
      console.log(mainHelp());
      return name === undefined ? 2 : 0;
    }
    const command = COMMANDS[name];
    if (!command) {
      const suggestion = closest(name, Object.keys(COMMANDS));
      throw new UsageError(
        `unknown command '${name}'` + (suggestion ? ` (did you mean '${suggestion}'?)` : ""),
      );
    }
    const parsed = parse(name, command, rest);
    if (parsed.values.help) {
      console.log(`Usage: deno run -A cli.ts ${command.usage}\n\n${command.help}`);
      return 0;
    }
    return await command.run(parsed.values, parsed.rest);
  } catch (error) {
    return report(error, debug);
  }
}

/** Prints a failure as `error: …` (and a hint); returns its exit status. */
export function report(error: unknown, debug: boolean): number {
  if (error instanceof UsageError) {
    console.error(`error: ${error.message}`);
    console.error(
      error.command
        ? `hint: run 'deno run -A cli.ts ${error.command} --help' for the options`
        : `hint: run 'deno run -A cli.ts --help' for the commands`,
    );
    return 2;
  }
  const message = error instanceof Error ? error.message : String(error);
  console.error(`error: ${message}`);
  const hint = hintFor(message);
  if (hint) console.error(`hint: ${hint}`);
  if (debug && error instanceof Error && error.stack) console.error(error.stack);
  return 1;
}

/** A hint for the failures whose remedy the message alone does not say. */
function hintFor(message: string): string | null {
  if (/os error 28|no space left/i.test(message)) {
    return "free some disk space, or write the run elsewhere with --run-dir";
  }
  if (/os error 30|read-only file system/i.test(message)) {
    return "the folder is on a read-only file system: write elsewhere (train --run-dir, prepare --output)";
  }
  if (/os error 13|permission denied/i.test(message)) {
    return "check the folder's permissions, or choose another folder";
  }
  if (/: (not a PNG or JPEG file|cannot decode (PNG|JPEG))/.test(message)) {
    return "prepare --skip-bad skips the files that do not decode (each one logged)";
  }
  if (/checkpoint\.json: corrupt/.test(message)) {
    return "pass one checkpoint folder (under checkpoints/) to eval --checkpoint instead";
  }
  return null;
}

if (import.meta.main) {
  dropOutputWithoutReaders();
  let code = 1;
  try {
    code = await main(Deno.args);
  } catch (error) {
    code = report(error, Deno.args.includes("--debug"));
  } finally {
    await releaseDevices();
  }
  Deno.exit(code);
}
