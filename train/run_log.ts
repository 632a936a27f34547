/**
 * Per-epoch metrics of a training run, appended to `metrics.jsonl` (read back on
 * resume), and `metrics.csv` (for spreadsheets) rewritten from it, in the run folder.
 *
 * @module
 */

import { join } from "node:path";
import { explainWriteError, writeAll, writeFileAtomic } from "../nn/_atomic.ts";
import type { EpochMetrics, TrainerCallback } from "./callback.ts";
import { formatLr } from "./_format.ts";

export type { EpochMetrics } from "./callback.ts";

/**
 * File column names in their fixed order, with the {@linkcode EpochMetrics}
 * field each one holds. JSONL keys use the same names as the CSV header.
 *
 * @example
 * ```ts
 * import { METRIC_COLUMNS } from "./run_log.ts";
 * console.log(METRIC_COLUMNS.map(([column]) => column).join(","));
 * ```
 */
export const METRIC_COLUMNS: readonly (readonly [string, keyof EpochMetrics])[] = [
  ["epoch", "epoch"],
  ["step", "step"],
  ["lr", "lr"],
  ["train_loss", "trainLoss"],
  ["train_top1", "trainTop1"],
  ["train_top5", "trainTop5"],
  ["val_loss", "valLoss"],
  ["val_top1", "valTop1"],
  ["val_top5", "valTop5"],
  ["images_per_sec", "imagesPerSec"],
  ["seconds", "seconds"],
  ["skipped_steps", "skippedSteps"],
];

/** JSON-lines file name inside the run folder. */
export const METRICS_JSONL = "metrics.jsonl";
/** CSV file name inside the run folder. */
export const METRICS_CSV = "metrics.csv";

const encoder = new TextEncoder();

/** A row's value as logged: the learning rate without the float noise of its decays. */
function cell(row: EpochMetrics, key: keyof EpochMetrics): number {
  return key === "lr" ? Number(formatLr(row.lr)) : row[key];
}

/**
 * The JSONL line (with newline) for a row. Non-finite numbers become `null`,
 * since JSON has no NaN.
 *
 * @param row The epoch's metrics.
 *
 * @example
 * ```ts
 * import { formatJsonLine } from "./run_log.ts";
 * const row = { epoch: 1, step: 10, lr: 0.01, trainLoss: 6.9, trainTop1: 1, trainTop5: 0.99,
 *   valLoss: NaN, valTop1: NaN, valTop5: NaN, imagesPerSec: 500, seconds: 2.5, skippedSteps: 0 };
 * console.log(formatJsonLine(row)); // {"epoch":1,...,"val_loss":null,...}
 * ```
 */
export function formatJsonLine(row: EpochMetrics): string {
  const record: Record<string, number | null> = {};
  for (const [column, key] of METRIC_COLUMNS) {
    const value = cell(row, key);
    record[column] = Number.isFinite(value) ? value : null;
  }
  return JSON.stringify(record) + "\n";
}

/**
 * The CSV line (with newline) for a row; non-finite numbers become empty cells.
 *
 * @param row The epoch's metrics.
 *
 * @example
 * ```ts
 * import { formatCsvLine } from "./run_log.ts";
 * const row = { epoch: 1, step: 10, lr: 0.01, trainLoss: 6.9, trainTop1: 1, trainTop5: 0.99,
 *   valLoss: NaN, valTop1: NaN, valTop5: NaN, imagesPerSec: 500, seconds: 2.5, skippedSteps: 0 };
 * console.log(formatCsvLine(row)); // 1,10,0.01,6.9,1,0.99,,,,500,2.5,0
 * ```
 */
export function formatCsvLine(row: EpochMetrics): string {
  return METRIC_COLUMNS.map(([, key]) => {
    const value = cell(row, key);
    return Number.isFinite(value) ? String(value) : "";
  }).join(",") + "\n";
}

/**
 * The CSV header line (with newline).
 *
 * @example
 * ```ts
 * import { csvHeader } from "./run_log.ts";
 * console.log(csvHeader()); // epoch,step,lr,train_loss,...
 * ```
 */
export function csvHeader(): string {
  return METRIC_COLUMNS.map(([column]) => column).join(",") + "\n";
}

/**
 * Appends one epoch's row to `metrics.jsonl` in `runDir` (creating it on first use) and
 * rewrites `metrics.csv` from it: one row per epoch up to this one, the last logged winning,
 * so an epoch redone after a resume is never listed twice.
 *
 * The JSONL line goes out in a single write and is fsynced, so a crash leaves at
 * most a torn last line; if a previous crash left one, the new line starts on a
 * fresh line so it is not glued to the fragment, and {@linkcode readMetrics}
 * skips the fragment. The CSV is replaced atomically.
 *
 * @param runDir The run folder; must exist.
 * @param row The epoch's metrics.
 *
 * @example
 * ```ts
 * import { appendEpochMetrics, readMetrics } from "./run_log.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await appendEpochMetrics(dir, { epoch: 1, step: 10, lr: 0.01, trainLoss: 6.9, trainTop1: 1,
 *   trainTop5: 0.99, valLoss: 6.8, valTop1: 0.99, valTop5: 0.98, imagesPerSec: 500,
 *   seconds: 2.5, skippedSteps: 0 });
 * assert.equal((await readMetrics(dir)).length, 1);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function appendEpochMetrics(runDir: string, row: EpochMetrics): Promise<void> {
  await appendLine(join(runDir, METRICS_JSONL), formatJsonLine(row), "");
  await writeCsv(runDir, await readMetrics(runDir, { upToEpoch: row.epoch }));
}

/**
 * Rewrites `metrics.jsonl` and `metrics.csv` with one row per epoch up to `upToEpoch` (the
 * last logged row of each epoch): on resume, the rows of epochs logged after the checkpoint
 * (and about to be redone) go. Both files are replaced atomically; no file, no change.
 *
 * @param runDir The run folder.
 * @param upToEpoch The last epoch to keep (the checkpoint's completed epochs).
 *
 * @example
 * ```ts
 * import { appendEpochMetrics, readMetrics, truncateMetrics } from "./run_log.ts";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const row = { step: 10, lr: 0.01, trainLoss: 6.9, trainTop1: 1, trainTop5: 0.99, valLoss: 6.8,
 *   valTop1: 0.99, valTop5: 0.98, imagesPerSec: 500, seconds: 2.5, skippedSteps: 0 };
 * for (const epoch of [1, 2, 3]) await appendEpochMetrics(dir, { epoch, ...row });
 * await truncateMetrics(dir, 1);
 * assert.deepEqual((await readMetrics(dir)).map((r) => r.epoch), [1]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function truncateMetrics(runDir: string, upToEpoch: number): Promise<void> {
  try {
    await Deno.stat(join(runDir, METRICS_JSONL));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  const rows = await readMetrics(runDir, { upToEpoch });
  await writeFileAtomic(join(runDir, METRICS_JSONL), rows.map(formatJsonLine).join(""));
  await writeCsv(runDir, rows);
}

async function writeCsv(runDir: string, rows: EpochMetrics[]): Promise<void> {
  await writeFileAtomic(join(runDir, METRICS_CSV), csvHeader() + rows.map(formatCsvLine).join(""));
}

/** Appends `line` in one write; `header` is prepended when the file is new or empty. */
async function appendLine(path: string, line: string, header: string): Promise<void> {
  try {
    await appendLineTo(path, line, header);
  } catch (error) {
    throw await explainWriteError(error, path);
  }
}

async function appendLineTo(path: string, line: string, header: string): Promise<void> {
  using file = await Deno.open(path, { read: true, append: true, create: true });
  const size = (await file.stat()).size;
  let prefix = "";
  if (size === 0) {
    prefix = header;
  } else if (!(await endsWithNewline(file, size))) {
    prefix = "\n";
  }
  try {
    await writeAll(file, encoder.encode(prefix + line));
    await file.syncData();
  } catch (error) {
    // A disk that fills mid-line would leave half a line: the file goes back to its rows.
    await file.truncate(size).catch(() => {});
    throw error;
  }
}

async function endsWithNewline(file: Deno.FsFile, size: number): Promise<boolean> {
  const last = new Uint8Array(1);
  await file.seek(size - 1, Deno.SeekMode.Start);
  const n = await file.read(last);
  return n === 1 && last[0] === 0x0a;
}

/** Options of {@linkcode readMetrics}. */
export interface ReadMetricsOptions {
  /** Drop rows with a later epoch, e.g. those logged after the checkpoint being resumed. */
  upToEpoch?: number;
}

/**
 * Reads `metrics.jsonl` back, e.g. on resume to redraw the plot.
 *
 * Lines that do not parse (a torn last line after a crash) are skipped. When an
 * epoch appears more than once (it was re-run after resuming from an older
 * checkpoint) the last row wins. Rows come back sorted by epoch, `null` as NaN.
 * A missing file gives an empty list.
 *
 * @param runDir The run folder.
 * @param options Optional epoch cut-off.
 *
 * @example
 * ```ts
 * import { readMetrics } from "./run_log.ts";
 * const dir = await Deno.makeTempDir();
 * console.log(await readMetrics(dir)); // []
 * await Deno.remove(dir);
 * ```
 */
export async function readMetrics(
  runDir: string,
  options: ReadMetricsOptions = {},
): Promise<EpochMetrics[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(runDir, METRICS_JSONL));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const byEpoch = new Map<number, EpochMetrics>();
  for (const line of text.split("\n")) {
    const row = parseJsonLine(line);
    if (row === undefined) continue;
    if (options.upToEpoch !== undefined && row.epoch > options.upToEpoch) continue;
    byEpoch.set(row.epoch, row);
  }
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

/**
 * Parses one JSONL line; `undefined` for blank or malformed lines.
 *
 * @param line A line of `metrics.jsonl`, with or without its newline.
 *
 * @example
 * ```ts
 * import { parseJsonLine } from "./run_log.ts";
 * console.log(parseJsonLine('{"epoch":3,"val_loss":null}')?.valLoss); // NaN
 * console.log(parseJsonLine('{"epoch":3,"val_lo')); // undefined
 * ```
 */
export function parseJsonLine(line: string): EpochMetrics | undefined {
  if (line.trim() === "") return undefined;
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof record !== "object" || record === null) return undefined;
  const source = record as Record<string, unknown>;
  if (typeof source.epoch !== "number") return undefined;
  const row = {} as EpochMetrics;
  for (const [column, key] of METRIC_COLUMNS) {
    const value = source[column];
    row[key] = typeof value === "number" ? value : NaN;
  }
  return row;
}

/**
 * A training-loop callback that appends each epoch's row to `metrics.jsonl` and `metrics.csv`
 * in the run folder (created if missing).
 *
 * @example
 * ```ts
 * import { metricsFiles } from "./run_log.ts";
 * const callback = metricsFiles(await Deno.makeTempDir());
 * console.log(typeof callback.onEpochEnd); // "function"
 * ```
 */
export function metricsFiles(runDir: string): TrainerCallback {
  let started = false;
  return {
    async onTrainStart() {
      await Deno.mkdir(runDir, { recursive: true });
    },
    async onEpochStart(trainer) {
      // Rows after the epochs done (a resume rolls back to its checkpoint) are about to be redone.
      if (!started) await truncateMetrics(runDir, trainer.epochsDone);
      started = true;
    },
    async onEpochEnd(_trainer, { metrics }) {
      await appendEpochMetrics(runDir, metrics);
    },
  };
}
