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
import { formatLr } from "../train/_format.ts";
import { escapeXml, f, textWidth, xScale, yScale } from "./_plot_axes.ts";

/** Options of {@linkcode renderTrainingSvg}. */
export interface PlotOptions {
  /** Heading above the panels. Default "Training curves". */
  title?: string;
}

/** File name of the plot inside the run folder. */
export const CURVES_SVG = "curves.svg";

const WIDTH = 1000;
const HEIGHT = 440;
const PANEL_WIDTH = WIDTH / 2;
const MARGIN = { left: 64, right: 24, top: 64, bottom: 84 };
const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';
// Colour tells train from val on both panels; dash tells top-1 from top-5.
const TRAIN = "#2563eb";
const VAL = "#ea580c";
const TOP5_DASH = "7 4";
// Markers on every point only while they do not clutter the line.
const MAX_MARKED_POINTS = 40;

/** One line of a {@linkcode renderPanelsSvg} panel: a value per epoch (NaN breaks it). */
export interface CurveSeries {
  /** Legend label. */
  label: string;
  /** Stroke colour. */
  color: string;
  /** SVG dash pattern, e.g. `"7 4"`. */
  dash?: string;
  /** Values, one per epoch of the plot. */
  values: number[];
  /** Stroke width (default 2); thinner lines get no point markers. */
  width?: number;
  /** Stroke opacity (default 1). */
  opacity?: number;
  /** Whether the legend lists it (default true). */
  legend?: boolean;
}

/** One panel of {@linkcode renderPanelsSvg}. */
export interface CurvePanel {
  /** Heading of the panel. */
  title: string;
  /** Label of the y axis. */
  yLabel: string;
  /** Its lines. */
  series: CurveSeries[];
  /** Lowest and highest value the axis may round out to (e.g. 0 and 100 for errors in %). */
  clamp?: { clampMin?: number; clampMax?: number };
}

type Series = CurveSeries;

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
  const loss: Series[] = [
    { label: "train", color: TRAIN, values: rows.map((r) => r.trainLoss) },
    { label: "val", color: VAL, values: rows.map((r) => r.valLoss) },
  ];
  const error: Series[] = [
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
 * Two panels of curves against epoch side by side (one panel fills the left half), with the
 * axes, ticks, gridlines and legends of {@linkcode renderTrainingSvg}, which draws with it.
 *
 * @param title Heading above the panels.
 * @param epochs The x value of each point.
 * @param panels One or two panels.
 * @param lrChanges Dotted vertical lines where the learning rate changed (default none).
 *
 * @example
 * ```ts
 * import { renderPanelsSvg } from "./plot_svg.ts";
 * const svg = renderPanelsSvg("Two runs", [1, 2, 3], [{
 *   title: "Error",
 *   yLabel: "error (%)",
 *   series: [
 *     { label: "a", color: "#2563eb", values: [80, 50, 40] },
 *     { label: "b", color: "#ea580c", values: [85, 70, 60] },
 *   ],
 * }]);
 * console.log(svg.startsWith("<svg")); // true
 * ```
 */
export function renderPanelsSvg(
  title: string,
  epochs: readonly number[],
  panels: readonly CurvePanel[],
  lrChanges: readonly { x: number; lr: number }[] = [],
): string {
  if (panels.length < 1 || panels.length > 2) {
    throw new RangeError(`renderPanelsSvg: one or two panels, not ${panels.length}`);
  }
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" ` +
    `viewBox="0 0 ${WIDTH} ${HEIGHT}" ${FONT}>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold" ` +
    `fill="#111827">${escapeXml(title)}</text>`,
    ...panels.map((p, i) =>
      panel(
        i * PANEL_WIDTH,
        p.title,
        p.yLabel,
        [...epochs],
        p.series,
        [...lrChanges],
        p.clamp ?? {},
      )
    ),
    "</svg>",
  ];
  return parts.join("\n") + "\n";
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

interface LrChange {
  /** Where the new rate took effect: the end of the previous epoch. */
  x: number;
  lr: number;
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

function panel(
  offsetX: number,
  title: string,
  yLabel: string,
  epochs: number[],
  series: Series[],
  lrChanges: LrChange[],
  clamp: { clampMin?: number; clampMax?: number },
): string {
  const left = offsetX + MARGIN.left;
  const right = offsetX + PANEL_WIDTH - MARGIN.right;
  const top = MARGIN.top;
  const bottom = HEIGHT - MARGIN.bottom;
  const finiteEpochs = epochs.filter(Number.isFinite);
  const xs = xScale(finiteEpochs);
  const values = series.flatMap((s) => s.values.filter(Number.isFinite));
  const ys = yScale(values, clamp.clampMin, clamp.clampMax);
  const px = (x: number) => left + ((x - xs.min) / (xs.max - xs.min)) * (right - left);
  const py = (y: number) => bottom - ((y - ys.min) / (ys.max - ys.min)) * (bottom - top);
  const out: string[] = [`<g>`];

  out.push(
    `<text x="${f(left)}" y="${top - 14}" font-size="14" font-weight="bold" fill="#111827">` +
      `${escapeXml(title)}</text>`,
  );
  // Gridlines and y ticks.
  for (const t of ys.ticks) {
    const y = f(py(t));
    out.push(`<line x1="${f(left)}" y1="${y}" x2="${f(right)}" y2="${y}" stroke="#e5e7eb"/>`);
    out.push(
      `<text x="${f(left - 6)}" y="${y}" dy="0.32em" text-anchor="end" font-size="11" ` +
        `fill="#374151">${t.toFixed(ys.decimals)}</text>`,
    );
  }
  // x ticks.
  for (const t of xs.ticks) {
    const x = f(px(t));
    out.push(
      `<line x1="${x}" y1="${f(bottom)}" x2="${x}" y2="${f(bottom + 5)}" stroke="#374151"/>`,
    );
    out.push(
      `<text x="${x}" y="${f(bottom + 18)}" text-anchor="middle" font-size="11" fill="#374151">` +
        `${t.toFixed(xs.decimals)}</text>`,
    );
  }
  // Learning-rate changes, under the curves.
  let labelRow = 0;
  let lastLabelEnd = -Infinity;
  for (const change of lrChanges) {
    if (change.x < xs.min || change.x > xs.max) continue;
    const x = px(change.x);
    const text = `lr ${formatLr(change.lr)}`;
    const width = textWidth(text, 10);
    // Near the right edge the label goes left of its line; close drops stack downwards.
    const anchorEnd = x + 4 + width > right;
    const start = anchorEnd ? x - 4 - width : x + 4;
    labelRow = start < lastLabelEnd + 4 ? labelRow + 1 : 0;
    lastLabelEnd = start + width;
    out.push(
      `<line x1="${f(x)}" y1="${f(top)}" x2="${f(x)}" y2="${f(bottom)}" stroke="#9ca3af" ` +
        `stroke-dasharray="2 3"/>`,
      `<text x="${f(anchorEnd ? x - 4 : x + 4)}" y="${f(top + 11 + labelRow * 12)}" ` +
        `${anchorEnd ? 'text-anchor="end" ' : ""}font-size="10" fill="#6b7280">` +
        `${escapeXml(text)}</text>`,
    );
  }
  // Axes.
  out.push(
    `<polyline points="${f(left)},${f(top)} ${f(left)},${f(bottom)} ${f(right)},${f(bottom)}" ` +
      `fill="none" stroke="#374151"/>`,
    `<text x="${f((left + right) / 2)}" y="${f(bottom + 36)}" text-anchor="middle" ` +
      `font-size="12" fill="#111827">epoch</text>`,
    `<text transform="translate(${f(offsetX + 16)},${f((top + bottom) / 2)}) rotate(-90)" ` +
      `text-anchor="middle" font-size="12" fill="#111827">${escapeXml(yLabel)}</text>`,
  );
  if (values.length === 0) {
    out.push(
      `<text x="${f((left + right) / 2)}" y="${f((top + bottom) / 2)}" text-anchor="middle" ` +
        `font-size="13" fill="#9ca3af">no data</text>`,
    );
  }
  const drawn = series.filter((s) => s.values.some(Number.isFinite));
  for (const s of drawn) out.push(...seriesElements(s, epochs, px, py));
  out.push(legend(drawn.filter((s) => s.legend !== false), offsetX, bottom + 58));
  out.push(`</g>`);
  return out.join("\n");
}

function seriesElements(
  s: Series,
  epochs: number[],
  px: (x: number) => number,
  py: (y: number) => number,
): string[] {
  const dash = (s.dash ? ` stroke-dasharray="${s.dash}"` : "") +
    (s.opacity !== undefined ? ` stroke-opacity="${s.opacity}"` : "");
  const width = s.width ?? 2;
  const segments: [number, number][][] = [];
  let current: [number, number][] = [];
  for (let i = 0; i < epochs.length; i++) {
    const x = epochs[i];
    const y = s.values[i];
    if (Number.isFinite(x) && Number.isFinite(y)) {
      current.push([px(x), py(y)]);
    } else if (current.length > 0) {
      segments.push(current);
      current = [];
    }
  }
  if (current.length > 0) segments.push(current);
  const markAll = epochs.length <= MAX_MARKED_POINTS && width >= 2;
  const out: string[] = [];
  for (const seg of segments) {
    if (seg.length > 1) {
      const points = seg.map(([x, y]) => `${f(x)},${f(y)}`).join(" ");
      out.push(
        `<polyline points="${points}" fill="none" stroke="${s.color}" stroke-width="${width}" ` +
          `stroke-linejoin="round" stroke-linecap="round"${dash}/>`,
      );
    }
    if (markAll || seg.length === 1) {
      for (const [x, y] of seg) {
        out.push(`<circle cx="${f(x)}" cy="${f(y)}" r="2.8" fill="${s.color}"/>`);
      }
    }
  }
  return out;
}

/** One row of swatches and labels, centred in the panel (the plot is off-centre). */
function legend(series: Series[], offsetX: number, y: number): string {
  const widths = series.map((s) => 34 + textWidth(s.label, 11));
  const gap = 18;
  const total = widths.reduce((a, b) => a + b, 0) + gap * Math.max(0, series.length - 1);
  let x = Math.max(offsetX + 8, offsetX + (PANEL_WIDTH - total) / 2);
  const out: string[] = [];
  series.forEach((s, i) => {
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : "";
    out.push(
      `<line x1="${f(x)}" y1="${f(y)}" x2="${f(x + 28)}" y2="${f(y)}" stroke="${s.color}" ` +
        `stroke-width="2"${dash}/>`,
      `<text x="${f(x + 34)}" y="${f(y)}" dy="0.32em" font-size="11" fill="#111827">` +
        `${escapeXml(s.label)}</text>`,
    );
    x += widths[i] + gap;
  });
  return out.join("\n");
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
