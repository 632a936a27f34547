/**
 * Every variant of one convolution's three passes side by side, in GPU milliseconds: each
 * pass's candidates (`convCandidates`, as the autotuner would time them) plus a few direct
 * tiles, timed by GPU timestamps round after round, the variants in a rotating order so a
 * change of load falls on all of them alike; prints the median of each. The first variant
 * of each pass is the default when tuning is off.
 *
 *     deno run -A bench/conv_variants.ts --shape 48,28,64,3,2,1 [--batch 2] [--rounds 9]
 *
 * `--shape c,hw,o,k,s,p` is a square convolution: c channels of hw², o outputs, k² kernel,
 * stride s, padding p. `--base <checkout>` adds the same candidates run by another checkout's
 * kernels (a worktree of main, say), timed among these; `--pass` keeps one pass. `--clock cpu`
 * reports the CPU time the process spends per run (lavapipe's threads) instead of GPU
 * timestamps: on a loaded machine it stretches far less with the load. `--tiles 32x8,64x4` adds
 * register-GEMM tiles (rows × columns per lane) to every pass, `--direct 2x8x4` direct-kernel
 * tiles (ty × tx × q) to the forward pass and the input gradient. `--dilation d` adds the same
 * convolution at dilation d, padded d·p (a "same" convolution keeps its size), every candidate
 * of its passes (`forward d2`, …) timed among the undilated ones.
 *
 * @module
 */

import { parseArgs } from "node:util";
import process from "node:process";
import { Device } from "../kernels/device.ts";
import { resolve as pathResolve } from "node:path";
import {
  algorithmName,
  conv2d,
  conv2dOutputSize,
  type ConvAlgorithm,
  convCandidates,
  type ConvPass,
} from "../kernels/conv2d.ts";
import { subgroupTile } from "../kernels/_gemm.ts";
import { conv2dBackwardInput, conv2dBackwardWeight } from "../kernels/conv2d_backward.ts";
import { resolve } from "../kernels/_conv_geometry.ts";
import { fillRandom } from "../kernels/random.ts";
import { squareConv } from "./cnn_layers.ts";
import { median, table } from "./_timing.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    shape: { type: "string", default: "48,28,64,3,2,1" },
    batch: { type: "string", default: "2" },
    rounds: { type: "string", default: "9" },
    rows: { type: "boolean", default: false },
    pass: { type: "string" },
    clock: { type: "string", default: "gpu" },
    base: { type: "string" },
    tiles: { type: "string" },
    direct: { type: "string" },
    all: { type: "boolean", default: false },
    dilation: { type: "string" },
  },
  strict: true,
});
const [c, hw, o, k, s, p] = values.shape.split(",").map(Number);
const g = squareConv(Number(values.batch), c, hw, o, k, s, p);
const rounds = Number(values.rounds);
// On a loaded machine the GPU (lavapipe's threads) shares the cores with others' jobs, and its
// wall-clock timestamps stretch with the load; the CPU time the process spends does much less.
const cpuClock = values.clock === "cpu";
const REPEAT = 5;
const device = await Device.acquire();
const r = resolve(g, "bench");
const { outH, outW } = conv2dOutputSize(g);
const nx = g.batch * c * hw * hw, nw = o * r.wk, ny = g.batch * o * outH * outW;
// The dilated twin (`--dilation`): taps d apart, padding d·p; its output fits y when p ≥ (k−1)/2.
const d = Number(values.dilation ?? 1);
const dilated = { ...g, padH: p * d, padW: p * d, dilationH: d, dilationW: d };
if (d > 1) {
  const size = conv2dOutputSize(dilated);
  if (size.outH * size.outW > outH * outW) throw new RangeError("--dilation: pad the shape more");
}
const buffers = [nx, nw, ny, nx, nw].map((n) => {
  const b = device.alloc(n * 4);
  fillRandom(device, b, n, { kind: "normal", mean: 0, std: 1 }, { seed: [1, 2], offset: 0 });
  return b;
});
const [x, w, y, gx, gw] = buffers;

type Variant = { pass: string; name: string; run: () => void };
const variants: Variant[] = [];
for (const a of convCandidates(device, "forward", r)) {
  variants.push({
    pass: "forward",
    name: a.name,
    run: () => conv2d(device, g, { x, w, out: y, algorithm: a.value }),
  });
}
for (const a of convCandidates(device, "gradInput", r)) {
  variants.push({
    pass: "gradInput",
    name: a.name,
    run: () => conv2dBackwardInput(device, g, { gradOut: y, w, gradX: gx, algorithm: a.value }),
  });
}
for (const a of convCandidates(device, "gradWeight", r)) {
  variants.push({
    pass: "gradWeight",
    name: a.name,
    run: () => conv2dBackwardWeight(device, g, { x, gradOut: y, gradW: gw, algorithm: a.value }),
  });
}
for (const pass of d > 1 ? ["forward", "gradInput", "gradWeight"] as const : []) {
  for (const a of convCandidates(device, pass, resolve(dilated, "bench"))) {
    const algorithm = a.value;
    const run = pass === "forward"
      ? () => conv2d(device, dilated, { x, w, out: y, algorithm })
      : pass === "gradInput"
      ? () => conv2dBackwardInput(device, dilated, { gradOut: y, w, gradX: gx, algorithm })
      : () => conv2dBackwardWeight(device, dilated, { x, gradOut: y, gradW: gw, algorithm });
    variants.push({ pass: `${pass} d${d}`, name: a.name, run });
  }
}
// The workgroup-memory core never competes on a software adapter (bench/RESULTS.md): left out
// there unless --all.
const competes = (v: Variant) => values.all || !device.isSoftware || !/gemm .*\//.test(v.name);
// Register-GEMM tiles beyond the candidates (`--tiles 32x8,64x4`: rows × columns per lane).
for (const spec of values.tiles?.split(",") ?? []) {
  const [rows, cols] = spec.split("x").map(Number);
  const algorithm: ConvAlgorithm = { kind: "gemm", tile: subgroupTile(rows, cols), splits: 1 };
  const name = algorithmName(algorithm);
  variants.push(
    { pass: "forward", name, run: () => conv2d(device, g, { x, w, out: y, algorithm }) },
    {
      pass: "gradInput",
      name,
      run: () => conv2dBackwardInput(device, g, { gradOut: y, w, gradX: gx, algorithm }),
    },
    {
      pass: "gradWeight",
      name,
      run: () => conv2dBackwardWeight(device, g, { x, gradOut: y, gradW: gw, algorithm }),
    },
  );
}
// Direct-kernel tiles beyond the picker's (`--direct 2x8x4,4x4x8`: ty × tx × q, 8 a workgroup).
for (const spec of values.direct?.split(",") ?? []) {
  const [ty, tx, q] = spec.split("x").map(Number);
  const tile = { ty, tx, q, wg: 8 }, name = `direct ${spec}`;
  variants.push(
    { pass: "forward", name, run: () => conv2d(device, g, { x, w, out: y, tile }) },
    {
      pass: "gradInput",
      name,
      run: () => conv2dBackwardInput(device, g, { gradOut: y, w, gradX: gx, tile }),
    },
  );
}
// The same candidates from another checkout's kernels (`--base`), timed among these.
if (values.base) {
  const root = `file://${pathResolve(values.base)}/kernels`;
  const base = {
    conv2d: (await import(`${root}/conv2d.ts`)).conv2d as typeof conv2d,
    input: (await import(`${root}/conv2d_backward.ts`))
      .conv2dBackwardInput as typeof conv2dBackwardInput,
    weight: (await import(`${root}/conv2d_backward.ts`))
      .conv2dBackwardWeight as typeof conv2dBackwardWeight,
  };
  for (const v of [...variants]) {
    if (v.pass.includes(" ")) continue; // the dilated twin: this checkout's alone
    const a = [...convCandidates(device, v.pass as ConvPass, r)].find((c) => c.name === v.name);
    if (!a) continue;
    const run = v.pass === "forward"
      ? () => base.conv2d(device, g, { x, w, out: y, algorithm: a.value })
      : v.pass === "gradInput"
      ? () => base.input(device, g, { gradOut: y, w, gradX: gx, algorithm: a.value })
      : () => base.weight(device, g, { x, gradOut: y, gradW: gw, algorithm: a.value });
    variants.push({ pass: v.pass, name: `base ${v.name}`, run });
  }
}
const chosen = variants.filter((v) =>
  (!values.pass || v.pass.split(" ")[0] === values.pass) && competes(v)
);
const times = chosen.map(() => [] as number[]);
for (const v of chosen) v.run(); // compile
await device.sync();
/** GPU ms of one run (timestamps), or the CPU ms the process spent on `REPEAT` runs, per run. */
async function measure(v: Variant): Promise<number> {
  if (!cpuClock) {
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
for (let round = 0; round < rounds; round++) {
  for (let j = 0; j < chosen.length; j++) {
    const i = (j + round) % chosen.length;
    times[i].push(await measure(chosen[i]));
  }
}
if (values.rows) {
  for (const v of chosen) {
    device.startProfile();
    v.run();
    for (const row of (await device.stopProfile()).rows) {
      console.log(`${v.pass} ${v.name}: ${row.ms.toFixed(3)} ms ${row.variant} ${row.name}`);
    }
  }
}
const load = Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
const clock = cpuClock ? `CPU ms of the process per run (${REPEAT} runs)` : "GPU ms";
console.log(`${values.shape} batch ${g.batch}, ${clock}, medians of ${rounds}; load ${load}`);
console.log(
  table(
    ["pass", "variant", "median", "min"],
    chosen.map((v, i) => [v.pass, v.name, median(times[i]), Math.min(...times[i])]),
  ),
);
for (const b of buffers) device.release(b);
device.destroy();
