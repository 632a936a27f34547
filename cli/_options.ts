/**
 * Option parsing and validation shared by the command-line commands.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { nearestName } from "../tensor/options.ts";

/** A mistake on the command line: printed with a hint, exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
  /** The command whose `--help` the hint names. */
  readonly command: string | undefined;
  /** Creates the error. */
  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

/** How `parseArgs` reads one option. */
export type OptionSpec = { type: "string" | "boolean"; short?: string };
/** A command's options by name. */
export type Specs = Record<string, OptionSpec>;

/** One subcommand of the command line. */
export interface Command {
  /** One line for the top-level help. */
  summary: string;
  /** The usage line, after `cli.ts`. */
  usage: string;
  /** Its options (besides `--help`). */
  options: Specs;
  /** Its `--help` text. */
  help: string;
  /** Runs it; returns the exit status. */
  run(values: Record<string, string | boolean | undefined>, rest: string[]): Promise<number>;
}

/** What {@link defineCommand} makes a command from: its options by name and kind. */
export interface CommandSpec extends Omit<Command, "options"> {
  /** Names of the options that take a value, separated by spaces. */
  strings?: string;
  /** Names of the options that are switches (no value), separated by spaces. */
  flags?: string;
}

/** A command from its declaration: the option names become the specs `parseArgs` reads. */
export function defineCommand({ strings = "", flags = "", ...command }: CommandSpec): Command {
  const options: Specs = {};
  for (const name of strings.split(" ").filter(Boolean)) options[name] = { type: "string" };
  for (const name of flags.split(" ").filter(Boolean)) options[name] = { type: "boolean" };
  return { ...command, options };
}

/** Parses a command's arguments; unknown or malformed options throw a {@link UsageError}. */
export function parse(
  name: string,
  command: Command,
  args: string[],
): { values: Record<string, string | boolean | undefined>; rest: string[] } {
  const passThrough = name === "bench";
  const dash = args.indexOf("--");
  const own = passThrough && dash >= 0 ? args.slice(0, dash) : args;
  const rest = passThrough && dash >= 0 ? args.slice(dash + 1) : [];
  try {
    const { values } = parseArgs({
      args: own,
      options: { help: { type: "boolean", short: "h" }, ...command.options },
      strict: true,
      allowPositionals: false,
    });
    return { values: values as Record<string, string | boolean | undefined>, rest };
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (unknown) {
      const suggestion = closest(unknown[1].replace(/^-+/, ""), Object.keys(command.options));
      throw new UsageError(
        `unknown option ${unknown[1]} for '${name}'` +
          (suggestion ? ` (did you mean --${suggestion}?)` : ""),
        name,
      );
    }
    const positional = /Unexpected argument '([^']+)'/.exec(message);
    if (positional) throw new UsageError(`unexpected argument '${positional[1]}'`, name);
    const missing = /Option '([^']+)' argument missing/.exec(message);
    if (missing) {
      const option = missing[1].split(",").pop()!.trim().split(" ")[0];
      throw new UsageError(`${option} needs a value`, name);
    }
    const ambiguous = /Option '([^']+)' argument is ambiguous/.exec(message);
    if (ambiguous) {
      const option = ambiguous[1].split(",").pop()!.trim().split(" ")[0];
      throw new UsageError(
        `${option} got a value starting with '-': write it as ${option}=<value>`,
        name,
      );
    }
    const flag = /Option '([^']+)' does not take an argument/.exec(message);
    if (flag) throw new UsageError(`${flag[1]} is a switch and takes no value`, name);
    throw new UsageError(message.split("\n")[0], name);
  }
}

/**
 * The candidate nearest `word`, if near enough to be a likely typo: the tensor API's
 * `nearestName` (the same but for case and underscores, a name cut short, or a small edit
 * distance), so the command line and the ops' options suggest alike.
 */
export function closest(word: string, candidates: string[]): string | undefined {
  return nearestName(word, candidates);
}

/**
 * A path or value as a shell reads it back: as is when it holds only safe characters, else in
 * single quotes. For the commands the CLI prints for copying (`--resume <run folder>`).
 */
export function shellArg(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Parsed option values by name. */
export type Values = Record<string, string | boolean | undefined>;

/** A string option's value, if given. */
export function str(values: Values, key: string): string | undefined {
  const v = values[key];
  return typeof v === "string" ? v : undefined;
}

/** A numeric option's value, if given, checked against `check`. */
export function number(
  values: Values,
  key: string,
  command: string,
  check: { integer?: boolean; min?: number; max?: number; above?: number; below?: number } = {},
): number | undefined {
  const text = str(values, key);
  if (text === undefined) return undefined;
  const x = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text.trim()) ? Number(text) : NaN;
  const fail = (what: string) => new UsageError(`--${key} must be ${what}, got '${text}'`, command);
  if (!Number.isFinite(x)) throw fail(check.integer ? "an integer" : "a number");
  if (check.integer && !Number.isSafeInteger(x)) throw fail("an integer");
  if (check.min !== undefined && x < check.min) throw fail(`at least ${check.min}`);
  if (check.max !== undefined && x > check.max) throw fail(`at most ${check.max}`);
  if (check.above !== undefined && !(x > check.above)) throw fail(`greater than ${check.above}`);
  if (check.below !== undefined && !(x < check.below)) throw fail(`less than ${check.below}`);
  return x;
}

/** An option's value, if given, which must be one of `allowed`. */
export function choice<T extends string>(
  values: Values,
  key: string,
  command: string,
  allowed: readonly T[],
): T | undefined {
  const text = str(values, key);
  if (text === undefined) return undefined;
  if (!allowed.includes(text as T)) {
    throw new UsageError(
      `--${key} must be one of ${allowed.join(", ")}, got '${text}'`,
      command,
    );
  }
  return text as T;
}
