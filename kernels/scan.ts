/**
 * Inclusive scans along rows: `torch.cumsum`, `torch.cumprod` and `torch.logcumsumexp`, forward
 * or from the end of each row (the gradient of a cumulative sum is one from the end), and the
 * positions of `torch.cummax` and `torch.cummin`.
 *
 * A blocked, work-efficient scan (reduce, then scan), as GPU libraries without forward-progress
 * guarantees do it: the `[rows, length]` matrix is one flat sequence cut into tiles, each tile
 * one workgroup, each thread a sequential run of a few elements. A first pass writes each tile's
 * total; the totals are scanned the same way (recursively, a tile of tiles at a time); a last
 * pass scans each tile again, starting from the scanned total of the tiles before it. So a
 * million-element row takes five dispatches and about three passes over memory, where the
 * Hillis–Steele scan this replaces took ⌈log₂ n⌉ full passes and `n log n` work, and a long
 * sum's rounding error grows with its tree depth over a few thousand elements rather than with
 * the row. Rows need not align with tiles: the scan is segmented, an element starting a row
 * drops what came before it, so many short rows pack into one tile and one row may span
 * thousands. No atomics, no inter-workgroup waits: the same result on every run. Lengths are
 * uniforms.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { boundElements, flatMain, flatMainHead, IS_NAN, rowRuns } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";
import { SMOOTH } from "./activation.ts";
import { choose, withScratch } from "./autotune.ts";

/** The scans: a running sum, product, or `log Σ exp` (f32 only; `torch.logcumsumexp`). */
export type ScanOp = "sum" | "prod" | "logaddexp";

/**
 * WGSL of `combine(a, b)` per scan. `log(eᵃ + eᵇ)` is `max + log1p(e^−|a−b|)`: no overflow, and
 * exact where one side is −∞ (the difference is then infinite); two equal infinities give
 * themselves, a NaN propagates.
 */
const COMBINE: { readonly [K in ScanOp]: (type: string) => string } = {
  sum: (t) => `fn combine(a: ${t}, b: ${t}) -> ${t} { return a + b; }`,
  prod: (t) => `fn combine(a: ${t}, b: ${t}) -> ${t} { return a * b; }`,
  logaddexp: () =>
    `${IS_NAN}
${SMOOTH.join("\n")}
fn combine(a: f32, b: f32) -> f32 {
  if (isNan(a) || isNan(b)) { return a + b; }
  let m = max(a, b);
  let d = -abs(a - b);
  if (isNan(d)) { return m; }
  return m + log1pOf(exp(d));
}`,
};

/** Threads per tile. */
const WORKGROUP = 256;
/**
 * Elements each thread scans in sequence, at most. A tile of 256 × 7 elements (7 KiB) fits a
 * binding of 8 KiB with its start aligned down by up to 256 bytes, so a device planning against
 * such small limits (`tests/big_tensor_test.ts`) combines in the same order as any other: the
 * same bits, and no rounding difference to tell apart from a windowing bug.
 */
const PER_THREAD = 7;

/**
 * What one scan carries and how: an element's WGSL type `E`, the combine, and the arrays an
 * element is read from and written to. A running sum's element is its value; a running
 * extremum's is the value with its position in the row, stored as two arrays (but at the first
 * level, where the positions are the elements' own and only the positions are output).
 */
interface Carrier {
  /** WGSL: the element type `E` and `fn combine(a: E, b: E) -> E` (a earlier, b later). */
  readonly declarations: string;
  /** WGSL type of each array of a stored level after the first, in order. */
  readonly arrays: readonly string[];
  /** The first level's input and output array types. */
  readonly input: string;
  readonly output: string;
  /** WGSL of the element at `at` of arrays named `name`, `name1`… (first level: input only). */
  load(name: string, at: string, first: boolean): string;
  /** WGSL statements storing `e` at `at` of arrays named `name`… (first level: output only). */
  store(name: string, at: string, e: string, first: boolean): string;
  /** Names the dispatches. */
  readonly label: string;
}

function valueCarrier(op: ScanOp, type: "f32" | "i32", reverse: boolean): Carrier {
  return {
    declarations: `alias E = ${type};\n${COMBINE[op](type)}`,
    arrays: [type],
    input: type,
    output: type,
    load: (name, at) => `${name}[${at}]`,
    store: (name, at, e) => `${name}[${at}] = ${e};`,
    label: `cum${op}${reverse ? " reversed" : ""}`,
  };
}

/**
 * A running extremum's carrier. PyTorch's rule: a later element wins if it is NaN, or neither is
 * and it is at least as extreme (so ties go to the later index, and the first NaN stays until a
 * later one) — an associative choice, so any grouping gives the sequential answer.
 */
function extremumCarrier(op: "max" | "min", type: "f32" | "i32"): Carrier {
  const beats = op === "max" ? ">=" : "<=";
  const wins = type === "f32"
    ? `isNan(b.v) || (!isNan(a.v) && b.v ${beats} a.v)`
    : `b.v ${beats} a.v`;
  return {
    declarations: `${type === "f32" ? IS_NAN : ""}
struct E { v: ${type}, at: i32 }
fn combine(a: E, b: E) -> E { if (${wins}) { return b; } return a; }`,
    arrays: [type, "i32"],
    input: type,
    output: "i32",
    load: (name, at, first) =>
      first ? `E(${name}[${at}], positionInRow(j))` : `E(${name}[${at}], ${name}1[${at}])`,
    store: (name, at, e, first) =>
      first
        ? `${name}[${at}] = (${e}).at;`
        : `${name}[${at}] = (${e}).v; ${name}1[${at}] = (${e}).at;`,
    label: `cum${op}`,
  };
}

/** One level of a scan: `count` elements, each the fold of `span` of the original `n`. */
interface Level {
  readonly count: number;
  readonly span: number;
  /** The first level of a reversed scan reads and writes element `j` at `count − 1 − j`. */
  readonly mirror: boolean;
  /** The arrays it is read from (one per carrier array; the first level: the input). */
  readonly input: readonly GpuBuffer[];
}

/** The scan's shape and what it runs on. */
interface Plan {
  readonly device: Device;
  readonly carrier: Carrier;
  /** Original elements, and the row length (rows are segments of it). */
  readonly n: number;
  readonly length: number;
  /** Threads' run length; a tile is `WORKGROUP · perThread` elements. */
  readonly perThread: number;
}

/**
 * Elements each thread runs over, so that a window of one tile fits a binding with its start
 * aligned down (as the tests' small limits require).
 */
function threadRun(device: Device): number {
  const { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align } =
    device.limits;
  const run = Math.min(PER_THREAD, Math.floor((limit - align) / 4 / WORKGROUP));
  if (run < 1) throw new RangeError(`scan: a binding of ${limit} bytes is under one tile`);
  return run;
}

/**
 * Scans level `level` into `output` (arrays of `level.count` elements, in the carrier's layout):
 * when it has more than one tile, its tiles' totals first, scanned by the level above.
 */
function scanLevel(plan: Plan, level: Level, output: readonly GpuBuffer[], first: boolean): void {
  const { device, carrier } = plan;
  const tile = WORKGROUP * plan.perThread;
  const tiles = Math.ceil(level.count / tile);
  let carry: GpuBuffer[] | null = null;
  if (tiles > 1) {
    const alloc = (what: string) =>
      carrier.arrays.map(() => device.alloc(tiles * 4, `${carrier.label} tile ${what}`));
    const totals = alloc("totals");
    dispatchLevel(plan, level, first, { totals });
    carry = alloc("prefixes");
    const above = { count: tiles, span: level.span * tile, mirror: false, input: totals };
    scanLevel(plan, above, carry, false);
    for (const buffer of totals) device.release(buffer);
  }
  dispatchLevel(plan, level, first, { output, carry });
  for (const buffer of carry ?? []) device.release(buffer);
}

/**
 * The pass of one level, once per window of whole tiles whose bindings fit: with `totals`, the
 * reduction writing each tile's total; else the scan writing `output`, each tile after the first
 * starting from `carry` (the scanned totals) at the tile before it.
 */
function dispatchLevel(
  plan: Plan,
  level: Level,
  first: boolean,
  target: { totals: readonly GpuBuffer[] } | {
    output: readonly GpuBuffer[];
    carry: readonly GpuBuffer[] | null;
  },
): void {
  const { device, carrier, perThread } = plan;
  const tile = WORKGROUP * perThread;
  const { maxStorageBufferBindingSize: limit, minStorageBufferOffsetAlignment: align } =
    device.limits;
  const tilesPer = Math.floor(Math.floor((limit - align) / 4) / tile);
  const tiles = Math.ceil(level.count / tile);
  const reduce = "totals" in target;
  const carry = reduce ? null : target.carry;
  const inputs = first ? [level.input[0]] : level.input;
  const outputs = reduce ? [] : first ? [target.output[0]] : target.output;
  for (let t0 = 0; t0 < tiles; t0 += tilesPer) {
    const t1 = Math.min(tiles, t0 + tilesPer);
    const [lo, hi] = [t0 * tile, Math.min(level.count, t1 * tile)];
    // The window's elements where they lie in memory (mirrored, the other end).
    const at = level.mirror ? level.count - hi : lo;
    const own = (b: GpuBuffer) => boundElements(device, b, at, hi - lo);
    const parts = [...inputs, ...outputs].map(own);
    const bindings: Binding[] = parts.map((p) => p.binding);
    let extra = 0;
    if (reduce) {
      const bound = target.totals.map((b) => boundElements(device, b, t0, t1 - t0));
      bindings.push(...bound.map((p) => p.binding));
      extra = bound[0].base;
    } else if (carry) {
      // The scanned totals of the tiles before each: [t0 − 1, t1 − 1), none for tile 0 alone.
      const [from, to] = [Math.max(0, t0 - 1), Math.max(1, t1 - 1)];
      const bound = carry.map((b) => boundElements(device, b, from, to - from));
      bindings.push(...bound.map((p) => p.binding));
      extra = bound[0].base;
    }
    const uf = new Uniforms();
    const u = uf.all({
      n: plan.n,
      length: plan.length,
      span: level.span,
      count: level.count,
      mirror: level.mirror ? 1 : 0,
      firstTile: t0,
      tiles: t1 - t0,
      base: parts[0].base,
      extra,
    });
    const pass = reduce ? "reduce" : "scan";
    const wgsl = levelShader(
      carrier,
      u,
      uf.declare(bindings.length),
      perThread,
      first,
      pass,
      !!carry,
    );
    device.dispatch(
      {
        name: `${carrier.label} [${plan.n / plan.length}, ${plan.length}] ${
          reduce ? "tile totals" : "tile scan"
        } of ${level.count}`,
        wgsl,
        uniforms: uf.data(),
        variant: `blocked ${WORKGROUP}×${perThread}`,
        workgroups: t1 - t0,
        cost: { bytes: 4 * bindings.length * (hi - lo) },
      },
      bindings,
    );
  }
}

/** The WGSL of one level's pass; `u` names the uniforms. */
function levelShader(
  carrier: Carrier,
  u: Record<
    "n" | "length" | "span" | "count" | "mirror" | "firstTile" | "tiles" | "base" | "extra",
    string
  >,
  uniforms: string,
  perThread: number,
  first: boolean,
  pass: "reduce" | "scan",
  hasCarry: boolean,
): string {
  const arrays = first ? [carrier.input] : carrier.arrays;
  const declare = (name: string, types: readonly string[], access: string, from: number) =>
    types.map((type, a) =>
      `@group(0) @binding(${from + a}) var<storage, ${access}> ${name}${a || ""}: array<${type}>;`
    );
  const outTypes = first ? [carrier.output] : carrier.arrays;
  const declarations = [
    ...declare("src", arrays, "read", 0),
    ...(pass === "scan" ? declare("dst", outTypes, "read_write", arrays.length) : []),
  ];
  const next = declarations.length;
  if (pass === "reduce") declarations.push(...declare("total", carrier.arrays, "read_write", next));
  if (hasCarry) declarations.push(...declare("carry", carrier.arrays, "read", next));
  const where = `place(j) - ${u.base}`;
  const finish = pass === "reduce"
    ? `
  // The tile's total: the scan at its last element, held by the thread that scanned it.
  let last = min(${u.count}, (tile + 1u) * TILE) - 1u;
  if (lid == (last - tile * TILE) / RUN) {
    ${carrier.store("total", `tile - ${u.extra}`, "acc", false)}
  }`
    : `
  // The thread's own run first, then the threads' and tiles' before it (where no row starts in
  // between): a long sum then rounds at its full size twice per level, not once per element.
  var tilesBefore: E;
  ${
      hasCarry
        ? `if (tile > 0u) { tilesBefore = ${
          carrier.load("carry", `tile - 1u - ${u.extra}`, false)
        }; }`
        : ""
    }
  // The threads' before this one in the tile, and whether a row starts among them.
  let threadsBefore = shValue[max(lid, 1u) - 1u];
  let rowBefore = tile == 0u || (lid > 0u && shHead[lid - 1u] != 0u);
  var run: E;
  var rowInRun = false;
  for (var k = 0u; k < RUN; k++) {
    let j = start + k;
    if (j >= ${u.count}) { break; }
    let starts = (heads & (1u << k)) != 0u;
    if (k == 0u || starts) { run = values[k]; } else { run = combine(run, values[k]); }
    rowInRun = rowInRun || starts;
    var out = run;
    if (!rowInRun) {
      if (lid > 0u) { out = combine(threadsBefore, out); }
      ${hasCarry ? "if (!rowBefore) { out = combine(tilesBefore, out); }" : ""}
    }
    ${carrier.store("dst", where, "out", first)}
  }`;
  return `${declarations.join("\n")}
${uniforms}
const TILE = ${WORKGROUP * perThread}u;
const RUN = ${perThread}u;
${carrier.declarations}
var<workgroup> shHead: array<u32, ${WORKGROUP}>;
var<workgroup> shValue: array<E, ${WORKGROUP}>;

// Where level element j lies in memory.
fn place(j: u32) -> u32 { return select(j, ${u.count} - 1u - j, ${u.mirror} != 0u); }

fn positionInRow(j: u32) -> i32 { return i32(j % ${u.length}); }
fn load(j: u32) -> E { return ${carrier.load("src", where, first)}; }

// Whether level element j (the fold of the original elements [j·span, end]) holds a row's start,
// so that the scan through it drops everything before.
fn startsRow(j: u32) -> bool {
  let end = select(${u.n} - 1u, (j + 1u) * ${u.span} - 1u, j + 1u < ${u.count});
  return end - end % ${u.length} >= j * ${u.span};
}
${flatMainHead(WORKGROUP, u.tiles, { perWorkgroup: true, index: "w" })}
  let tile = ${u.firstTile} + w;
  let start = tile * TILE + lid * RUN;
  // This thread's run, scanned in sequence: its total, and whether a row starts in it.
  var values: array<E, ${perThread}>;
  var acc: E;
  var head = true;
  var heads = 0u;
  for (var k = 0u; k < RUN; k++) {
    let j = start + k;
    if (j >= ${u.count}) { break; }
    values[k] = load(j);
    let starts = startsRow(j);
    heads |= u32(starts) << k;
    if (k == 0u || starts) {
      acc = values[k];
      head = k != 0u || starts;
    } else {
      acc = combine(acc, values[k]);
    }
  }
  // The threads' totals scanned across the workgroup (Hillis–Steele over ${WORKGROUP}, segmented).
  shHead[lid] = u32(head);
  shValue[lid] = acc;
  workgroupBarrier();
  for (var d = 1u; d < ${WORKGROUP}u; d = d << 1u) {
    var h = head;
    var v = acc;
    if (lid >= d && !head) {
      v = combine(shValue[lid - d], acc);
      h = shHead[lid - d] != 0u;
    }
    workgroupBarrier();
    head = h;
    acc = v;
    shHead[lid] = u32(h);
    shValue[lid] = v;
    workgroupBarrier();
  }${finish}
}`;
}

/**
 * How a scan runs: `"blocked"`, the tiles above (any shape); `"rows"`, one thread per row in
 * sequence, one pass reading and writing each element once, which wins for many short rows.
 */
export type ScanVariant = "blocked" | "rows";

/**
 * Rows up to this long may scan a row per thread: a sequential f32 sum's rounding grows with
 * the row, and on a GPU so does each thread's chain of dependent loads.
 */
const SHORT_ROW = 256;
/** Rows a GPU needs before a row per thread is worth timing (a few threads per core). */
const GPU_ROWS = 4096;

/**
 * The variants a shape may run as, the default first. On lavapipe, a row per thread is 3 to 4
 * times faster than the tiles at every row length up to 256 (`bench/scan.ts --variants`: a
 * million elements in rows of 7 to 256, 15–18 ms against 43–74 ms), the CPU's lanes each
 * streaming a row; a GPU wants the tiles' coalesced loads and parallelism unless rows are many,
 * so there the tiles come first and the autotuner times both.
 */
function variantsFor(device: Device, rows: number, length: number): ScanVariant[] {
  if (length > SHORT_ROW) return ["blocked"];
  if (device.isSoftware) return ["rows", "blocked"];
  // A GPU's row-per-thread pass needs rows enough to fill it before it can win.
  return rows >= GPU_ROWS ? ["blocked", "rows"] : ["blocked"];
}

/**
 * The variant a scan runs as: `variant` when given, else the autotuner's choice among the
 * shape's candidates (the default without tuning, as on software adapters).
 */
function chooseVariant(
  device: Device,
  carrier: Carrier,
  rows: number,
  length: number,
  timed: (variant: ScanVariant) => void,
): ScanVariant {
  return choose(
    device,
    "scan",
    `${carrier.label} ${rows}x${length}`,
    () => variantsFor(device, rows, length).map((v) => ({ name: v, value: v })),
    timed,
  ).value;
}

/** Runs a scan of `n` elements in rows of `length` from `x` into `out`. */
function runScan(
  device: Device,
  carrier: Carrier,
  x: GpuBuffer,
  out: GpuBuffer,
  n: number,
  length: number,
  reverse: boolean,
  variant: ScanVariant | undefined,
): void {
  const rows = n / length;
  const how = variant ??
    chooseVariant(
      device,
      carrier,
      rows,
      length,
      (v) =>
        withScratch(
          device,
          [n, n],
          ([a, b]) => runScan(device, carrier, a, b, n, length, reverse, v),
        ),
    );
  if (how === "rows") {
    scanEachRow(device, carrier, x, out, rows, length, reverse);
    return;
  }
  const plan = { device, carrier, n, length, perThread: threadRun(device) };
  scanLevel(plan, { count: n, span: 1, mirror: reverse, input: [x] }, [out], true);
}

/** The `"rows"` variant: thread `r` scans row `r` in sequence, runs of whole rows a dispatch. */
function scanEachRow(
  device: Device,
  carrier: Carrier,
  x: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  length: number,
  reverse: boolean,
): void {
  for (const run of rowRuns(device, carrier.label, rows, length, [x, out])) {
    const uf = new Uniforms();
    const u = uf.all({ rows: run.rows, length, shift: run.shift, reverse: reverse ? 1 : 0 });
    const body = `
  var acc: E;
  for (var k = 0u; k < ${u.length}; k++) {
    let j = r * ${u.length} + select(k, ${u.length} - 1u - k, ${u.reverse} != 0u);
    let v = ${carrier.load("src", `j + ${u.shift}`, true)};
    if (k == 0u) { acc = v; } else { acc = combine(acc, v); }
    ${carrier.store("dst", `j + ${u.shift}`, "acc", true)}
  }`;
    const wgsl = `
@group(0) @binding(0) var<storage, read> src: array<${carrier.input}>;
@group(0) @binding(1) var<storage, read_write> dst: array<${carrier.output}>;
${uf.declare(2)}
${carrier.declarations}
fn positionInRow(j: u32) -> i32 { return i32(j % ${u.length}); }
${flatMain(WORKGROUP, u.rows, body, { index: "r" })}`;
    device.dispatch(
      {
        name: `${carrier.label} [${rows}, ${length}] a row per thread`,
        wgsl,
        uniforms: uf.data(),
        variant: "rows",
        workgroups: Math.ceil(run.rows / WORKGROUP),
        cost: { bytes: 8 * run.rows * length },
      },
      run.bindings,
    );
  }
}

/**
 * The running sum, product or `log Σ exp` along each row of a contiguous `[rows, length]` matrix
 * `x` (f32, or i32 wrapping on overflow for a sum or product) into `out`:
 * `out[r, j] = x[r, 0] ⊕ … ⊕ x[r, j]`, or with `reverse`, `x[r, j] ⊕ … ⊕ x[r, length − 1]`.
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { scanRows } from "./scan.ts";
 * const device = await Device.acquire();
 * const x = device.alloc(24), out = device.alloc(24);
 * device.write(x, new Float32Array([1, 2, 3, 4, 5, 6]));
 * scanRows(device, "sum", "f32", x, out, 2, 3);
 * console.log(new Float32Array(await device.read(out, 0, 24))); // [1, 3, 6, 4, 9, 15]
 * ```
 */
export function scanRows(
  device: Device,
  op: ScanOp,
  type: "f32" | "i32",
  x: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  length: number,
  reverse = false,
  variant?: ScanVariant,
): void {
  const n = rows * length;
  if (n === 0) return;
  if (op === "logaddexp" && type !== "f32") throw new TypeError("scanRows: logcumsumexp of i32");
  runScan(device, valueCarrier(op, type, reverse), x, out, n, length, reverse, variant);
}

/**
 * The i32 position of the running maximum or minimum along each row of a contiguous
 * `[rows, length]` matrix `keys` (f32 or i32) into `out`, as `torch.cummax`'s and
 * `torch.cummin`'s indices: the later position on ties, a NaN the extremum from where it
 * stands (the latest NaN so far).
 *
 * @example
 * ```ts
 * import { Device } from "./device.ts";
 * import { cumulativeExtremumRows } from "./scan.ts";
 * const device = await Device.acquire();
 * const keys = device.alloc(20), out = device.alloc(20);
 * device.write(keys, new Float32Array([1, 3, 2, 3, 0]));
 * cumulativeExtremumRows(device, "max", "f32", keys, out, 1, 5);
 * console.log(new Int32Array(await device.read(out, 0, 20))); // [0, 1, 1, 3, 3]
 * ```
 */
export function cumulativeExtremumRows(
  device: Device,
  op: "max" | "min",
  type: "f32" | "i32",
  keys: GpuBuffer,
  out: GpuBuffer,
  rows: number,
  length: number,
  variant?: ScanVariant,
): void {
  const n = rows * length;
  if (n === 0) return;
  runScan(device, extremumCarrier(op, type), keys, out, n, length, false, variant);
}
