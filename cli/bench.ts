/**
 * The `bench` command: runs bench/mod.ts when the checkout has it.
 *
 * @module
 */

import { type Command, defineCommand, UsageError, type Values } from "./_options.ts";

const BENCH_HELP = `Runs the benchmarks (bench/mod.ts) when the checkout has them.

  deno run -A cli.ts bench [-- <arguments for bench/mod.ts>]
  -h, --help            This help.`;

async function runBench(_values: Values, rest: string[]): Promise<number> {
  const script = new URL("../bench/mod.ts", import.meta.url);
  try {
    await Deno.stat(script);
  } catch {
    throw new UsageError("no benchmarks here: bench/mod.ts is missing", "bench");
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script.pathname, ...rest],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return (await child.status).code;
}

/** The `bench` command. */
export const benchCommand: Command = defineCommand({
  summary: "run bench/mod.ts",
  usage: "bench [-- args]",
  help: BENCH_HELP,
  run: runBench,
});
