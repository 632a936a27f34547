/**
 * Training progress on the console: a live status line on a terminal, plain
 * periodic lines in logs and pipes (where carriage returns would pile up into one
 * enormous line).
 *
 * @module
 */

import type { TrainerCallback } from "../train/callback.ts";
import type { EpochMetrics } from "../train/run_log.ts";
import { formatLoss, formatLr, pct, showsTop5 } from "../train/_format.ts";
import { readerGone } from "./_output.ts";

/** Options of {@linkcode ProgressReporter}; everything is injectable for tests. */
export interface ProgressOptions {
  /** Output sink. Default: synchronous writes to stdout. */
  write?: (text: string) => void;
  /** Clock in milliseconds. Default `performance.now`. */
  now?: () => number;
  /** Whether to draw a live line. Default `Deno.stdout.isTerminal()`. */
  isTerminal?: boolean;
  /** Terminal width; the live line is cut to fit so it never wraps. Default from the console. */
  columns?: number;
  /** Not a terminal: print every this many steps. Default 100. */
  everySteps?: number;
  /** Not a terminal: also print when this many seconds passed since the last line. Default 30. */
  everySeconds?: number;
  /** Terminal: redraw at most this often, in milliseconds. Default 100. */
  redrawMs?: number;
}

/** One optimiser step, for {@linkcode ProgressReporter.update}. */
export interface ProgressUpdate {
  /** Steps done in this epoch, counting this one (1-based). */
  step: number;
  /** This step's loss. */
  loss: number;
  /** Current learning rate. */
  lr: number;
  /** Images in this step's batch. */
  images: number;
}

// Throughput and ETA come from the most recent steps, so the slow first steps
// (shader compilation, cold caches) stop distorting them after a while.
const WINDOW = 50;
const encoder = new TextEncoder();

/**
 * Formats seconds as `m:ss` or `h:mm:ss`; `--:--` when unknown.
 *
 * @param seconds Duration.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * console.log(formatDuration(3725)); // 1:02:05
 * console.log(formatDuration(65)); // 1:05
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/**
 * Reports training progress: epoch, step/steps, loss, images/s, ETA and learning
 * rate. On a terminal one line is rewritten in place with `\r`; otherwise a plain
 * line is printed every `everySteps` steps, every `everySeconds` seconds, and at
 * the last step of the epoch.
 *
 * @example Plain lines into an array
 * ```ts
 * import { ProgressReporter } from "./progress.ts";
 * import assert from "node:assert/strict";
 *
 * const out: string[] = [];
 * let t = 0;
 * const p = new ProgressReporter({ write: (s) => out.push(s), now: () => t, isTerminal: false,
 *   everySteps: 2 });
 * p.startEpoch(1, 4);
 * for (let step = 1; step <= 4; step++) {
 *   t += 500;
 *   p.update({ step, loss: 2.5, lr: 0.01, images: 128 });
 * }
 * p.endEpoch();
 * assert.equal(out.length, 2);
 * assert.match(out[0], /^epoch 1 step 2\/4 loss 2\.5000 256\.0 img\/s ETA 0:01 lr 0\.01\n$/);
 * ```
 */
export class ProgressReporter {
  #write: (text: string) => void;
  #now: () => number;
  #tty: boolean;
  #columns: number;
  #everySteps: number;
  #everyMs: number;
  #redrawMs: number;

  #epoch = 0;
  #steps = 0;
  #times: number[] = [];
  #images: number[] = [];
  #stepsSeen: number[] = [];
  #totalImages = 0;
  #lastPrint = -Infinity;
  #lastLine = "";
  #liveShown = false;

  /**
   * @param options Output, clock and cadence; all optional.
   *
   * @example
   * ```ts
   * import { ProgressReporter } from "./progress.ts";
   * const p = new ProgressReporter({ isTerminal: false, everySteps: 50 });
   * p.startEpoch(1, 100);
   * ```
   */
  constructor(options: ProgressOptions = {}) {
    this.#write = options.write ?? writeStdout;
    this.#now = options.now ?? (() => performance.now());
    this.#tty = options.isTerminal ?? Deno.stdout.isTerminal();
    this.#columns = options.columns ?? consoleColumns();
    this.#everySteps = options.everySteps ?? 100;
    this.#everyMs = (options.everySeconds ?? 30) * 1000;
    this.#redrawMs = options.redrawMs ?? 100;
  }

  /**
   * Starts timing a new epoch.
   *
   * @param epoch Epoch number shown in the line.
   * @param steps Steps in the epoch, for step/steps and the ETA.
   *
   * @example
   * ```ts
   * import { ProgressReporter } from "./progress.ts";
   * new ProgressReporter({ isTerminal: false }).startEpoch(3, 10009);
   * ```
   */
  startEpoch(epoch: number, steps: number): void {
    this.#finishLive();
    this.#epoch = epoch;
    this.#steps = steps;
    const now = this.#now();
    this.#times = [now];
    this.#images = [0];
    this.#stepsSeen = [0];
    this.#totalImages = 0;
    this.#lastPrint = now;
    this.#lastLine = "";
  }

  /**
   * Records a finished step and prints when due.
   *
   * @param update The step's number, loss, learning rate and batch size.
   *
   * @example
   * ```ts
   * import { ProgressReporter } from "./progress.ts";
   * const p = new ProgressReporter({ isTerminal: false, write: console.log, everySteps: 1 });
   * p.startEpoch(1, 2);
   * p.update({ step: 1, loss: 6.9, lr: 0.01, images: 128 });
   * ```
   */
  update(update: ProgressUpdate): void {
    const now = this.#now();
    this.#totalImages += update.images;
    this.#times.push(now);
    this.#images.push(this.#totalImages);
    this.#stepsSeen.push(update.step);
    if (this.#times.length > WINDOW + 1) {
      this.#times.shift();
      this.#images.shift();
      this.#stepsSeen.shift();
    }
    const last = update.step >= this.#steps;
    this.#lastLine = this.#format(update, now);
    if (this.#tty) {
      if (last || now - this.#lastPrint >= this.#redrawMs) this.#drawLive(now);
    } else if (
      last || update.step % this.#everySteps === 0 || now - this.#lastPrint >= this.#everyMs
    ) {
      this.#write(this.#lastLine + "\n");
      this.#lastPrint = now;
    }
  }

  /**
   * Prints a message on its own line without breaking the live line, which is
   * redrawn below it.
   *
   * @param message Text without a trailing newline.
   *
   * @example
   * ```ts
   * import { ProgressReporter } from "./progress.ts";
   * new ProgressReporter({ isTerminal: false, write: console.log }).log("lr 0.01 -> 0.001");
   * ```
   */
  log(message: string): void {
    if (this.#tty && this.#liveShown) {
      this.#write(`\r\x1b[K${message}\n${this.#fit(this.#lastLine)}`);
    } else {
      this.#write(message + "\n");
    }
  }

  /**
   * Ends the epoch: on a terminal the live line is kept and the cursor moved to
   * a new line; then `message`, if given, is printed.
   *
   * @param message Optional summary line.
   *
   * @example
   * ```ts
   * import { ProgressReporter } from "./progress.ts";
   * const p = new ProgressReporter({ isTerminal: false, write: console.log });
   * p.startEpoch(1, 1);
   * p.endEpoch("epoch 1 done");
   * ```
   */
  endEpoch(message?: string): void {
    this.#finishLive();
    if (message !== undefined) this.#write(message + "\n");
  }

  #drawLive(now: number): void {
    this.#write(`\r${this.#fit(this.#lastLine)}\x1b[K`);
    this.#liveShown = true;
    this.#lastPrint = now;
  }

  #finishLive(): void {
    if (!this.#liveShown) return;
    // Redraw first: throttling may have skipped the latest update.
    this.#write(`\r${this.#fit(this.#lastLine)}\x1b[K\n`);
    this.#liveShown = false;
  }

  #fit(line: string): string {
    return line.length < this.#columns ? line : line.slice(0, Math.max(0, this.#columns - 1));
  }

  #format(update: ProgressUpdate, now: number): string {
    // Oldest sample in the window versus the newest (this update).
    const last = this.#times.length - 1;
    const seconds = (now - this.#times[0]) / 1000;
    const rate = seconds > 0 ? (this.#images[last] - this.#images[0]) / seconds : NaN;
    const stepsInWindow = this.#stepsSeen[last] - this.#stepsSeen[0];
    const eta = stepsInWindow > 0
      ? (seconds / stepsInWindow) * Math.max(0, this.#steps - update.step)
      : NaN;
    const loss = formatLoss(update.loss);
    const ips = Number.isFinite(rate) ? rate.toFixed(1) : "-";
    const width = String(this.#steps).length;
    return `epoch ${this.#epoch} step ${String(update.step).padStart(width)}/${this.#steps} ` +
      `loss ${loss} ${ips} img/s ETA ${formatDuration(eta)} lr ${formatLr(update.lr)}`;
  }
}

let stdoutGone = false;

function writeStdout(text: string): void {
  if (stdoutGone) return;
  const bytes = encoder.encode(text);
  let offset = 0;
  try {
    while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
  } catch (error) {
    // Nobody reads the progress any more (see _output.ts): the run goes on without it.
    if (!readerGone(error)) throw error;
    stdoutGone = true;
  }
}

function consoleColumns(): number {
  try {
    return Deno.consoleSize().columns || 120;
  } catch {
    return 120; // Not a terminal: the width does not matter much.
  }
}

/** Options of {@link progressLine}. */
export interface ProgressLineOptions {
  /** The validation uses ten crops (said in the epoch line). */
  tenCrop?: boolean;
  /** Classes of the data: with five or fewer, top-5 error is always 0 and left out. */
  numClasses?: number;
}

/**
 * A training-loop callback that drives a {@link ProgressReporter}: the live line from each
 * readback, and one summary line per epoch. Pass `(m) => reporter.log(m)` as the trainer's
 * `log`, so log lines do not tear the live line.
 *
 * @example
 * ```ts
 * import { ProgressReporter, progressLine } from "./progress.ts";
 * const reporter = new ProgressReporter({ isTerminal: false });
 * const callback = progressLine(reporter);
 * console.log(typeof callback.onLog); // "function"
 * ```
 */
export function progressLine(
  reporter: ProgressReporter,
  options: ProgressLineOptions = {},
): TrainerCallback {
  return {
    onEpochStart(_trainer, { epoch, steps }) {
      reporter.startEpoch(epoch, steps);
    },
    onLog(_trainer, { step, loss, lr, images }) {
      reporter.update({ step, loss, lr, images });
    },
    onEpochEnd(_trainer, { metrics }) {
      const top5 = showsTop5(options.numClasses ?? Infinity);
      reporter.endEpoch(formatEpoch(metrics, options.tenCrop ?? false, top5));
    },
    onStop() {
      reporter.endEpoch();
    },
    onTrainEnd(_trainer, { error }) {
      if (error !== undefined) reporter.endEpoch();
    },
  };
}

/** One epoch's summary line (without top-5 when `top5` is false). */
export function formatEpoch(r: EpochMetrics, tenCrop: boolean, top5 = true): string {
  return `epoch ${r.epoch}: train loss ${formatLoss(r.trainLoss)} top-1 ${pct(r.trainTop1)} | ` +
    `val${tenCrop ? " (10 crops)" : ""} loss ${formatLoss(r.valLoss)} top-1 ${pct(r.valTop1)}` +
    `${top5 ? ` top-5 ${pct(r.valTop5)}` : ""} | ${r.imagesPerSec.toFixed(1)} img/s, ` +
    `${r.seconds.toFixed(1)} s, lr ${formatLr(r.lr)}`;
}
