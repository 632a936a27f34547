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
    "Run 'deno run -A cli.ts <command> --help' for a command's options.",
  ].join("\n");
}

/** Runs the command line; returns the exit status. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
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
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}`);
      console.error(
        error.command
          ? `hint: run 'deno run -A cli.ts ${error.command} --help' for the options`
          : `hint: run 'deno run -A cli.ts --help' for the commands`,
      );
      return 2;
    }
    throw error;
  }
}

if (import.meta.main) {
  let code = 1;
  try {
    code = await main(Deno.args);
  } catch (error) {
    console.error(error);
  } finally {
    await releaseDevices();
  }
  Deno.exit(code);
}
