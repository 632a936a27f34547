/**
 * An experiment's results as a Markdown table (the paper's claim, what was measured here,
 * the verdict, and the data, epochs and seeds behind it) and an SVG of the arms' curves.
 *
 * @module
 */

import type { RunRecord } from "../train/experiment/claims.ts";
import type { ClaimResult } from "../train/experiment/runner.ts";
import type { Comparison, Spread } from "../train/experiment/stats.ts";
import { plural } from "../train/_format.ts";
import { type CurveSeries, renderPanelsSvg } from "./plot_svg.ts";

const VERDICT_TEXT = {
  "holds": "holds",
  "opposite": "**opposite** of the paper",
  "not resolved": "not resolved at this scale",
} as const;

/** `m ± sd` with `digits` decimals (`n/a` without values). */
function pm(s: Spread, digits: number): string {
  if (!Number.isFinite(s.mean)) return "n/a";
  return `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)}`;
}

/** A signed number: `+0.90`, `−1.20`. */
function signed(x: number, digits: number): string {
  return (x >= 0 ? "+" : "−") + Math.abs(x).toFixed(digits);
}

/** The "measured here" cell of one comparison. */
export function measuredText(result: ClaimResult, c: Comparison): string {
  const [a, b] = result.claim.arms;
  const ratio = c.measure.compare === "ratio";
  const digits = ratio ? 2 : 1;
  const bound = (i: 0 | 1) => (c.censored[i] > 0 ? "≥ " : "");
  const arms = `${a.label} ${bound(0)}${pm(c.summaries[0], digits)}, ${b.label} ` +
    `${bound(1)}${pm(c.summaries[1], digits)}`;
  const never = c.censored.some((n) => n > 0)
    ? ` (${
      c.censored.map((n, i) => `${n} of ${c.arms[i].length} ${[a, b][i].label}`).join(", ")
    } ` +
      `runs never reached ${(result.target * 100).toFixed(0)}%; counted at ${result.epochs})`
    : "";
  if (ratio) {
    const rel = c.censored[1] > 0 && c.censored[0] === 0 ? "≥ " : "";
    return `${arms}${never}; ratio ${rel}×${c.ratioOfMeans.toFixed(2)} ` +
      `(per seed ×${pm(c.effect, 2)})`;
  }
  return `${arms}; effect ${c.effect.n > 0 ? signed(c.effect.mean, 2) : "n/a"} ± ` +
    `${c.effect.sd.toFixed(2)}`;
}

/** The header of {@link claimTableRows}' table. */
export const TABLE_HEADER: readonly string[] = [
  "| Claim (paper) | Measure | Paper | Measured here (mean ± sd over seeds) | Verdict | Data, epochs, seeds |",
  "|---|---|---|---|---|---|",
];

/** One table row per measure of a claim. */
export function claimTableRows(result: ClaimResult): string[] {
  const { claim } = result;
  const setup =
    `${result.data}; ${plural(result.epochs, "epoch")}; seeds ${result.seeds.join(", ")}` +
    (claim.measures.some((m) => m.compare === "ratio")
      ? `; target training error ${(result.target * 100).toFixed(0)}%`
      : "");
  return result.comparisons.map((c, i) => {
    const cells = [
      i === 0 ? `${claim.title} (${claim.section})` : "″",
      c.measure.label,
      c.measure.paper,
      measuredText(result, c),
      VERDICT_TEXT[c.verdict],
      i === 0 ? setup : "″",
    ];
    return `| ${cells.map((s) => s.replaceAll("|", "\\|")).join(" | ")} |`;
  });
}

/**
 * The Markdown report of one or more claims: one table, then per claim its statement, the
 * per-seed values and the curves' file.
 *
 * @example
 * ```ts
 * import { CLAIMS, summarize } from "../train/experiment/mod.ts";
 * import { renderReport } from "./_experiment_report.ts";
 * const run = (valTop1: number) => ({
 *   rows: [{ epoch: 1, step: 1, lr: 0.01, trainLoss: 1, trainTop1: valTop1, trainTop5: 0,
 *     valLoss: 1, valTop1, valTop5: 0, imagesPerSec: 1, seconds: 1, skippedSteps: 0 }],
 *   trainEval: null,
 * });
 * const result = summarize(
 *   { claim: CLAIMS.lrn, seeds: [0, 1], epochs: 1, target: 0.25, classes: 10, data: "stand-in" },
 *   [[run(0.30), run(0.31)], [run(0.32), run(0.34)]],
 * );
 * console.log(renderReport([result]).split("\n")[6]);
 * // | Local response normalisation (§3.3) | validation top-1 error (%) | +1.4 points without LRN | LRN 30.5 ± 0.7, no LRN 33.0 ± 1.4; effect +2.50 ± 0.71 | not resolved at this scale | …
 * ```
 */
export function renderReport(
  results: readonly ClaimResult[],
  options: { title?: string; curves?: (claim: string) => string } = {},
): string {
  const lines = [
    `# ${options.title ?? "The paper's claims, measured"}`,
    "",
    "Each claim ran as two arms that differ in one switch only: the same data, the same seeds " +
    "(initialisation, data order, augmentation, dropout masks), the same recipe. Effects are " +
    "paired by seed (the alternative arm against the paper's), given as mean ± sample " +
    "standard deviation; the verdict is a paired t-test at 95% (ratios on their logarithms): " +
    "*holds* (the paper's direction), *opposite*, or *not resolved at this scale*.",
    "",
    ...TABLE_HEADER,
    ...results.flatMap(claimTableRows),
  ];
  for (const r of results) {
    const [a, b] = r.claim.arms;
    lines.push("", `## ${r.claim.title} (${r.claim.section})`, "");
    lines.push(`The paper: ${r.claim.statement}.`, "");
    lines.push(`| Measure | Seed | ${a.label} | ${b.label} |`, "|---|---|---|---|");
    for (const c of r.comparisons) {
      r.seeds.forEach((seed, i) => {
        const cell = (arm: 0 | 1) => {
          const v = c.raw[arm][i];
          return v === Infinity ? `> ${r.epochs}` : Number.isFinite(v) ? v.toFixed(2) : "n/a";
        };
        lines.push(`| ${c.measure.label} | ${seed} | ${cell(0)} | ${cell(1)} |`);
      });
    }
    if (options.curves) lines.push("", `![${r.claim.title}](${options.curves(r.claim.id)})`);
  }
  return lines.join("\n") + "\n";
}

const ARM_COLORS = ["#2563eb", "#ea580c"] as const;

/**
 * The arms' curves: training error (running, as the paper's Figure 1 plots it) and
 * validation top-1 error against epoch; each seed thin, each arm's mean thick.
 */
export function renderClaimSvg(result: ClaimResult): string {
  const epochs = Array.from({ length: result.epochs }, (_, i) => i + 1);
  const at = (run: RunRecord, key: "trainTop1" | "valTop1") =>
    epochs.map((e) => 100 * (run.rows.find((r) => r.epoch === e)?.[key] ?? NaN));
  const lines = (key: "trainTop1" | "valTop1"): CurveSeries[] =>
    result.runs.flatMap((runs, arm) => {
      const color = ARM_COLORS[arm];
      const perSeed = runs.map((run) => at(run, key));
      const mean = epochs.map((_, e) => {
        const vs = perSeed.map((v) => v[e]).filter(Number.isFinite);
        return vs.length > 0 ? vs.reduce((x, y) => x + y, 0) / vs.length : NaN;
      });
      return [
        ...perSeed.map((values) => ({
          label: "",
          color,
          values,
          width: 1,
          opacity: 0.35,
          legend: false,
        })),
        { label: `${result.claim.arms[arm].label} (mean of ${runs.length})`, color, values: mean },
      ];
    });
  const train = lines("trainTop1");
  if (result.claim.measures.some((m) => m.compare === "ratio")) {
    train.push({
      label: `target ${(result.target * 100).toFixed(0)}%`,
      color: "#6b7280",
      dash: "4 4",
      width: 1,
      values: epochs.map(() => result.target * 100),
    });
  }
  const clamp = { clampMin: 0, clampMax: 100 };
  return renderPanelsSvg(`${result.claim.title}: ${result.data}`, epochs, [
    { title: "Training error (running)", yLabel: "top-1 error (%)", series: train, clamp },
    { title: "Validation error", yLabel: "top-1 error (%)", series: lines("valTop1"), clamp },
  ]);
}
