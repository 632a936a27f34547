/**
 * Training curves as a self-contained SVG: loss and top-1/top-5 error against
 * epoch, train and validation, with learning-rate drops marked. No external
 * fonts, scripts or styles, so the file renders anywhere, including offline.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../nn/_atomic.ts";
import type { TrainerCallback } from "../train/callback.ts";
import type { EpochMetrics } from "../train/run_log.ts";
import { type LrChange, renderPanelsSvg } from "../train/_svg_panels.ts";

export { type CurvePanel, type CurveSeries, renderPanelsSvg } from "../train/_svg_panels.ts";

/** Options of {@linkcode renderTrainingSvg}. */
export interface PlotOptions {
  /** Heading above the panels. Default "Training curves". */
  title?: string;
}

/** File name of the plot inside the run folder. */
export const CURVES_SVG = "curves.svg";

// Colour tells train from val on both panels; dash tells top-1 from top-5.
const TRAIN = "#2563eb";
const VAL = "#ea580c";
const TOP5_DASH = "7 4";

/**
 * Renders the loss panel (train/val) and the error panel (top-1 and top-5 in
 * percent, train/val) side by side, with axes, ticks, gridlines, legends and
 * dotted vertical lines where the learning rate changed.
 *
 * Non-finite values (NaN: not measured, or a diverged loss) break a line rather
 * than bend it; isolated points are drawn as dots, so one epoch already shows.
 * With no rows the panels are drawn empty with a "no data" note.
 *
 * @param rows Epoch rows, e.g. from `readMetrics`, in epoch order.
 * @param options Optional title.
 * @returns The SVG document as a string.
 *
 * @example
 * ```ts
 * import { renderTrainingSvg } from "./plot_svg.ts";
 * import assert from "node:assert/strict";
 *
 * const svg = renderTrainingSvg([
 *   { epoch: 1, step: 100, lr: 0.01, trainLoss: 6.5, trainTop1: 0.98, trainTop5: 0.93,
 *     valLoss: 6.2, valTop1: 0.97, valTop5: 0.9, imagesPerSec: 900, seconds: 60, skippedSteps: 0 },
 * ]);
 * assert.ok(svg.startsWith("<svg"));
 * ```
 */
export function renderTrainingSvg(
  rows: readonly EpochMetrics[],
  options: PlotOptions = {},
): string {
  const epochs = rows.map((r) => r.epoch);
  const pct = (v: number) => v * 100;
  const loss = [
    { label: "train", color: TRAIN, values: rows.map((r) => r.trainLoss) },
    { label: "val", color: VAL, values: rows.map((r) => r.valLoss) },
  ];
  const error = [
    { label: "train top-1", color: TRAIN, values: rows.map((r) => pct(r.trainTop1)) },
    { label: "val top-1", color: VAL, values: rows.map((r) => pct(r.valTop1)) },
    {
      label: "train top-5",
      color: TRAIN,
      dash: TOP5_DASH,
      values: rows.map((r) => pct(r.trainTop5)),
    },
    { label: "val top-5", color: VAL, dash: TOP5_DASH, values: rows.map((r) => pct(r.valTop5)) },
  ];
  return renderPanelsSvg(options.title ?? "Training curves", epochs, [
    { title: "Loss", yLabel: "loss", series: loss, clamp: { clampMin: 0 } },
    { title: "Error", yLabel: "error (%)", series: error, clamp: { clampMin: 0, clampMax: 100 } },
  ], findLrChanges(rows));
}

/**
 * Renders the plot and writes it to `curves.svg` in `runDir` atomically, so a
 * viewer refreshing the file never sees half a document.
 *
 * @param runDir The run folder; must exist.
 * @param rows Epoch rows in epoch order.
 * @param options Optional title.
 * @returns The path written.
 *
 * @example
 * ```ts
 * import { writeTrainingPlot } from "./plot_svg.ts";
 * const dir = await Deno.makeTempDir();
 * console.log(await writeTrainingPlot(dir, [])); // .../curves.svg
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeTrainingPlot(
  runDir: string,
  rows: readonly EpochMetrics[],
  options: PlotOptions = {},
): Promise<string> {
  const path = join(runDir, CURVES_SVG);
  await writeFileAtomic(path, renderTrainingSvg(rows, options));
  return path;
}

function findLrChanges(rows: readonly EpochMetrics[]): LrChange[] {
  const changes: LrChange[] = [];
  for (let i = 1; i < rows.length; i++) {
    const prev = rows[i - 1].lr;
    const lr = rows[i].lr;
    if (Number.isFinite(prev) && Number.isFinite(lr) && prev !== lr) {
      changes.push({ x: rows[i - 1].epoch, lr });
    }
  }
  return changes;
}

/**
 * A training-loop callback that redraws `curves.svg` in `runDir` after every epoch, from the
 * trainer's history (a resumed run's earlier epochs included).
 *
 * @example
 * ```ts
 * import { curvesPlot } from "./plot_svg.ts";
 * const callback = curvesPlot(await Deno.makeTempDir(), { title: "demo" });
 * console.log(typeof callback.onEpochEnd); // "function"
 * ```
 */
export function curvesPlot(runDir: string, options: PlotOptions = {}): TrainerCallback {
  return {
    async onEpochEnd(trainer) {
      await writeTrainingPlot(runDir, trainer.history, options);
    },
  };
}
