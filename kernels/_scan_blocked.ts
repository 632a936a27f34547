/**
 * The blocked, work-efficient scan of `kernels/scan.ts` (reduce, then scan), as GPU libraries
 * without forward-progress guarantees do it: the `[rows, length]` matrix is one flat sequence
 * cut into tiles, each tile one workgroup, each thread a sequential run of a few elements. A
 * first pass writes each tile's total; the totals are scanned the same way (recursively, a tile
 * of tiles at a time); a last pass scans each tile again, starting from the scanned total of the
 * tiles before it. Rows need not align with tiles: the scan is segmented, an element starting a
 * row drops what came before it, so many short rows pack into one tile and one row may span
 * thousands. Each pass runs once per window of whole tiles whose bindings fit.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { boundElements, flatMainHead } from "./_program.ts";
import { Uniforms } from "./_uniforms.ts";
import type { Carrier } from "./_scan_carrier.ts";

/** Threads per tile. */
export const WORKGROUP = 256;
/**
 * Elements each thread scans in sequence, at most. A tile of 256 × 7 elements (7 KiB) fits a
 * binding of 8 KiB with its start aligned down by up to 256 bytes, so a device planning against
 * such small limits (`tests/big_tensor_test.ts`) combines in the same order as any other: the
 * same bits, and no rounding difference to tell apart from a windowing bug.
 */
const PER_THREAD = 7;
/** One level of a scan: `count` elements, each the fold of `span` of the original `n`. */
export interface Level {
  readonly count: number;
  readonly span: number;
  /** The first level of a reversed scan reads and writes element `j` at `count − 1 − j`. */
  readonly mirror: boolean;
  /** The arrays it is read from (one per carrier array; the first level: the input). */
  readonly input: readonly GpuBuffer[];
}

/** The scan's shape and what it runs on. */
export interface Plan {
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
export function threadRun(device: Device): number {
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
export function scanLevel(
  plan: Plan,
  level: Level,
  output: readonly GpuBuffer[],
  first: boolean,
): void {
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
