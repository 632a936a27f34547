/**
 * The plots' axes and text: scales from the data to round ticks (the epoch axis, and value
 * axes clamped to what a metric can be), and the numbers and text as the SVG writes them.
 *
 * @module
 */

/** An axis: its range and its ticks, printed with `decimals` decimals. */
export interface Scale {
  min: number;
  max: number;
  ticks: number[];
  decimals: number;
}

/** Estimated text width: no font metrics without a renderer; 0.6 em per character is generous. */
export function textWidth(text: string, fontSize: number): number {
  return text.length * fontSize * 0.6;
}

/**
 * The epoch axis: from the first plotted epoch (1 for a new run, later for a window of a long
 * one) to the last, the first labelled, then round steps; a tick too close to the first is
 * dropped so labels do not collide.
 */
export function xScale(epochs: number[]): Scale {
  if (epochs.length === 0) return { min: 0, max: 1, ticks: [0, 1], decimals: 0 };
  const first = Math.min(...epochs);
  const last = Math.max(...epochs);
  // One epoch: its point centred in a window one epoch wide, rather than divide by zero.
  if (first === last) return { min: first - 0.5, max: last + 0.5, ticks: [first], decimals: 0 };
  const step = Math.max(1, niceStep((last - first) / 8));
  const ticks = [first];
  for (let t = (Math.floor(first / step) + 1) * step; t <= last + 1e-9; t += step) {
    if (t - first >= step / 2) ticks.push(t);
  }
  return { min: first, max: last, ticks, decimals: decimalsFor(ticks) };
}

/**
 * A value axis over `values`, rounded out to nice ticks, not past `clampMin`/`clampMax` unless
 * the data are.
 */
export function yScale(values: number[], clampMin?: number, clampMax?: number): Scale {
  const dataMin = values.length > 0 ? Math.min(...values) : (clampMin ?? 0);
  const dataMax = values.length > 0 ? Math.max(...values) : (clampMax ?? 1);
  let min = dataMin;
  let max = dataMax;
  if (min === max) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    min -= pad;
    max += pad;
  }
  const step = niceStep((max - min) / 6);
  min = Math.floor(min / step) * step;
  max = Math.ceil(max / step) * step;
  // Rounding out to a tick must not show impossible values (error above 100 %),
  // but data outside the bounds must stay visible.
  if (clampMin !== undefined && dataMin >= clampMin) min = Math.max(min, clampMin);
  if (clampMax !== undefined && dataMax <= clampMax) max = Math.min(max, clampMax);
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step - 1e-9) * step; t <= max + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  return { min, max, ticks, decimals: decimalsFor(ticks) };
}

/** The "nice" number (1, 2, 2.5 or 5 times a power of ten) nearest above `rough`. */
function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  const fraction = rough / power;
  const nice = fraction <= 1
    ? 1
    : fraction <= 2
    ? 2
    : fraction <= 2.5
    ? 2.5
    : fraction <= 5
    ? 5
    : 10;
  return nice * power;
}

/** Fewest decimals that print every tick exactly (2.5-steps need one more than their power). */
function decimalsFor(ticks: number[]): number {
  for (let d = 0; d < 8; d++) {
    const scale = 10 ** d;
    if (ticks.every((t) => Math.abs(Math.round(t * scale) - t * scale) < 1e-6)) return d;
  }
  return 8;
}

/** Two decimals keep the file small; sub-pixel precision is invisible. */
export function f(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** Text as SVG character data or an attribute value. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
