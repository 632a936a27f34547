/**
 * Whether the deterministic default of each convolution pass and matmul beats the other
 * candidates (autotuning off, as on software adapters): for a sweep of shapes (the peers
 * bench's ops, the default `train`'s convolutions, AlexNet's at batch 2 with `--alexnet`, and
 * seeded random convolutions and matmuls of sizes that are multiples of no tile), every
 * candidate of every pass (`convCandidates`, `matmulCandidates`; the workgroup-memory core's
 * tiles left out on software adapters unless `--all`, as in `conv_variants.ts`) is timed round
 * after round in a rotating order, in the CPU time the process spends per run (lavapipe's
 * threads: it stretches far less with others' load than wall clock; `--clock gpu` for GPU
 * timestamps). Prints, per pass, the default's median, the best candidate's, and their ratio.
 *
 *     deno run -A bench/default_sweep.ts [--rounds 5] [--random 20] [--alexnet] [--only 3,7]
 *       [--mm 32x512x128,...] [--conv 48x19x64x5x1x2,...] [--clock gpu]
 *
 * @module
 */

import { parseArgs } from "node:util";
import process from "node:process";
import { Device } from "../kernels/device.ts";
import {
  conv2d,
  type Conv2dGeometry,
  conv2dOutputSize,
  convCandidates,
} from "../kernels/conv2d.ts";
import { conv2dBackwardInput, conv2dBackwardWeight } from "../kernels/conv2d_backward.ts";
import { matmul, matmulCandidates } from "../kernels/matmul.ts";
import { resolve } from "../kernels/_conv_geometry.ts";
import { fillRandom } from "../kernels/random.ts";
import { setAutotune } from "../kernels/autotune.ts";
import type { GpuBuffer } from "../kernels/device.ts";
import { squareConv } from "./cnn_layers.ts";
import { peerOps } from "./peers.ts";
import { median, table } from "./_timing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    random: { type: "string", default: "20" },
    matmuls: { type: "string", default: "10" },
    alexnet: { type: "boolean", default: false },
    all: { type: "boolean", default: false },
    only: { type: "string" },
    mm: { type: "string" },
    conv: { type: "string" },
    clock: { type: "string", default: "cpu" },
  },
  strict: true,
});
const rounds = Number(values.rounds);
const REPEAT = 3;
setAutotune(false);
const device = await Device.acquire();

type Op =
  | { name: string; kind: "conv"; g: Conv2dGeometry }
  | { name: string; kind: "matmul"; m: number; n: number; k: number };

/** A seeded generator (mulberry32), so the random shapes are the same run after run. */
function seeded(seed: number): (lo: number, hi: number) => number {
  let t = seed;
  return (lo, hi) => {
    t = (t + 0x6d2b79f5) | 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r ^= r + Math.imul(r ^ (r >>> 7), 61 | r);
    const u = ((r ^ (r >>> 14)) >>> 0) / 4294967296;
    return lo + Math.floor(u * (hi - lo + 1));
  };
}
const int = seeded(10);
const shapeName = (g: Conv2dGeometry) =>
  `${g.batch}×${g.inChannels}×${g.height}²→${g.outChannels} k${g.kernelH} s${g.strideH} p${g.padH}` +
  (g.groups > 1 ? ` g${g.groups}` : "");
const trainConvs: [number, number, number, number, number, number, number][] = [
  [3, 24, 12, 5, 1, 2, 1],
  [12, 11, 32, 5, 1, 2, 2],
  [32, 5, 48, 3, 1, 1, 1],
  [48, 5, 48, 3, 1, 1, 2],
  [48, 5, 32, 3, 1, 1, 2],
];
const ops: Op[] = [
  ...peerOps(2).filter((o) => values.alexnet || !o.name.startsWith("conv")),
  ...trainConvs.map((s) => ({ name: "train", kind: "conv" as const, g: squareConv(32, ...s) })),
];
for (let i = 0; i < Number(values.random); i++) {
  const k = int(1, 7), s = int(1, 3), hw = int(Math.max(7, k), 40);
  const g = squareConv(int(1, 4), int(3, 96), hw, int(3, 96), k, s, int(0, k >> 1));
  ops.push({ name: "random", kind: "conv", g });
}
for (let i = 0; i < Number(values.matmuls); i++) {
  // Sizes that are multiples of no tile: odd, and off every power of two.
  const odd = (lo: number, hi: number) => int(lo, hi) | 1;
  ops.push({ name: "random", kind: "matmul", m: odd(9, 600), n: odd(9, 1100), k: odd(9, 1100) });
}
// Extra products (`--mm 32x512x128,33x517x1031`: M×N×K).
for (const spec of values.mm?.split(",") ?? []) {
  const [m, n, k] = spec.split("x").map(Number);
  ops.push({ name: "extra", kind: "matmul", m, n, k });
}
// Extra convolutions (`--conv 48x19x64x5x1x2`: c × hw × o × k × stride × padding, batch 2).
for (const spec of values.conv?.split(",") ?? []) {
  const [c, hw, o, k, s, p] = spec.split("x").map(Number);
  ops.push({ name: "extra", kind: "conv", g: squareConv(2, c, hw, o, k, s, p) });
}
const only = values.only?.split(",").map(Number);

function buffer(n: number): GpuBuffer {
  const b = device.alloc(Math.max(4, n * 4));
  fillRandom(device, b, n, { kind: "normal", mean: 0, std: 1 }, { seed: [1, 2], offset: 0 });
  return b;
}

interface Variant {
  pass: string;
  name: string;
  run: () => void;
}

/** Every candidate of each pass of `op`, the unforced call (the default) first. */
function variantsOf(op: Op): { variants: Variant[]; buffers: GpuBuffer[] } {
  if (op.kind === "conv") {
    const g = op.g, r = resolve(g, "sweep"), { outH, outW } = conv2dOutputSize(g);
    const nx = g.batch * g.inChannels * g.height * g.width, nw = g.outChannels * r.wk;
    const buffers = [nx, nw, g.batch * g.outChannels * outH * outW, nx, nw].map(buffer);
    const [x, w, y, gx, gw] = buffers;
    const run = {
      forward: (algorithm?: ConvAlg) => conv2d(device, g, { x, w, out: y, algorithm }),
      gradInput: (algorithm?: ConvAlg) =>
        conv2dBackwardInput(device, g, { gradOut: y, w, gradX: gx, algorithm }),
      gradWeight: (algorithm?: ConvAlg) =>
        conv2dBackwardWeight(device, g, { x, gradOut: y, gradW: gw, algorithm }),
    };
    const variants: Variant[] = [];
    for (const pass of ["forward", "gradInput", "gradWeight"] as const) {
      const list = convCandidates(device, pass, r);
      variants.push({ pass, name: `default (${list[0].name})`, run: () => run[pass]() });
      for (const a of list.slice(1)) {
        variants.push({ pass, name: a.name, run: () => run[pass](a.value) });
      }
    }
    return { variants, buffers };
  }
  const { m, n, k } = op;
  const buffers = [m * k, k * n, m * n, m * k, k * n].map(buffer);
  const [a, b, out, ga, gb] = buffers;
  // The three products of sum(a·b)'s forward and gradients, as the peers bench runs them, with
  // the product each runs (M, N, K) and whether its B reads as vec4s.
  const products = [
    { pass: "a·b", ext: [m, n, k], vec4: n % 4 === 0, args: { a, b, out, m, n, k } },
    {
      pass: "dy·bᵀ",
      ext: [m, k, n],
      vec4: n % 4 === 0,
      args: { a: out, b, out: ga, m, n: k, k: n, transB: true },
    },
    {
      pass: "aᵀ·dy",
      ext: [k, n, m],
      vec4: n % 4 === 0,
      args: { a, b: out, out: gb, m: k, n, k: m, transA: true },
    },
  ];
  const variants: Variant[] = [];
  for (const p of products) {
    const [pm, pn, pk] = p.ext;
    const list = matmulCandidates(device, pm, pn, pk, 1, undefined, p.vec4);
    variants.push({
      pass: p.pass,
      name: `default (${list[0].name})`,
      run: () => matmul(device, p.args),
    });
    for (const c of list.slice(1)) {
      if (!values.all && device.isSoftware && !/sg/.test(c.name)) continue;
      variants.push({
        pass: p.pass,
        name: c.name,
        run: () => matmul(device, { ...p.args, tile: c.value.tile, splits: c.value.splits }),
      });
    }
  }
  return { variants, buffers };
}
type ConvAlg = Parameters<typeof conv2d>[2]["algorithm"];

/**
 * CPU ms the process spends per run of `v`, over {@link REPEAT} runs; with `--clock gpu`, the
 * GPU timestamps' ms of one run (wall clock inside lavapipe: it stretches with others' load).
 */
async function measure(v: Variant): Promise<number> {
  if (values.clock === "gpu") {
    device.startProfile();
    v.run();
    const profile = await device.stopProfile();
    return profile.rows.reduce((sum, row) => sum + row.ms, 0);
  }
  await device.sync();
  const start = process.cpuUsage();
  for (let i = 0; i < REPEAT; i++) v.run();
  await device.sync();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / REPEAT;
}

const summary: (string | number)[][] = [];
for (const [index, op] of ops.entries()) {
  if (only && !only.includes(index)) continue;
  const label = op.kind === "conv"
    ? `${op.name} ${shapeName(op.g)}`
    : `matmul ${op.m}×${op.n}×${op.k}`;
  const { variants: all, buffers } = variantsOf(op);
  // The workgroup-memory core never competes on a software adapter (bench/RESULTS.md).
  const variants = all.filter((v) => values.all || !device.isSoftware || !/gemm .*\//.test(v.name));
  for (const v of variants) v.run(); // compile
  const times = variants.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < variants.length; j++) {
      const i = (j + round) % variants.length;
      times[i].push(await measure(variants[i]));
    }
  }
  const rows: (string | number)[][] = [];
  const details: string[] = [];
  for (const pass of new Set(variants.map((v) => v.pass))) {
    const of = variants.map((v, i) => ({ v, ms: median(times[i]) })).filter((x) =>
      x.v.pass === pass
    );
    const best = of.reduce((a, b) => (b.ms < a.ms ? b : a));
    const def = of[0];
    const row = [index, label, pass, def.v.name, def.ms, best.v.name, best.ms, def.ms / best.ms];
    details.push(`  ${pass}: ${of.map((x) => `${x.v.name} ${x.ms.toFixed(2)}`).join(", ")}`);
    rows.push(row);
    summary.push(row);
  }
  console.log(
    `${label}: ` +
      rows.map((r) =>
        `${r[2]} ${(r[4] as number).toFixed(2)}/${(r[6] as number).toFixed(2)} ${r[5]}`
      )
        .join("; "),
  );
  for (const line of details) console.log(line);
  for (const b of buffers) device.release(b);
}
const load = Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
const clock = values.clock === "gpu" ? "GPU ms" : `CPU ms of the process per run (${REPEAT} runs)`;
console.log(`\n${clock}, medians of ${rounds}; load ${load}`);
console.log(
  table(
    ["#", "shape", "pass", "default", "ms", "best", "ms", "default/best"],
    summary,
  ),
);
device.destroy();
