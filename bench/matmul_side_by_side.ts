/**
 * Two versions of the matmul kernels side by side in one process, on one device: the kernels
 * of another checkout (`--base`, e.g. a worktree of main) against this one's, on the fully
 * connected products of the default `train` (with their epilogues: bias and ReLU, ReLU mask,
 * row sums) and a few ragged and larger ones. Each case checks that both give the same
 * result, then times the two alternately (`--rounds`, default 7) and prints the medians.
 * On a shared machine the alternation keeps the load the same for both.
 *
 *     git worktree add /tmp/base main
 *     deno run -A bench/matmul_side_by_side.ts --base /tmp/base
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { median } from "./_timing.ts";
import { Device } from "../kernels/device.ts";
import { matmul, type MatmulArgs } from "../kernels/matmul.ts";
import { fillRandom } from "../kernels/random.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { base: { type: "string" }, rounds: { type: "string", default: "7" } },
  strict: true,
});
if (!values.base) throw new Error("--base <checkout> is required");
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error("--rounds must be a positive integer");
const baseUrl = new URL(`file://${resolve(values.base)}/kernels/matmul.ts`);
const baseMatmul: typeof matmul = (await import(baseUrl.href)).matmul;

/** One product: sizes, transposes and which epilogue parts it has. */
interface Case {
  name: string;
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  relu?: boolean;
  mask?: boolean;
  rowSums?: boolean;
}

const cases: Case[] = [
  { name: "fc6 forward 32×128→512", m: 32, n: 512, k: 128, transB: true, bias: true, relu: true },
  { name: "fc7 forward 32×512→512", m: 32, n: 512, k: 512, transB: true, bias: true, relu: true },
  { name: "fc8 forward 32×512→10", m: 32, n: 10, k: 512, transB: true, bias: true },
  { name: "fc8 input grad (mask)", m: 32, n: 512, k: 10, mask: true },
  { name: "fc7 input grad (mask)", m: 32, n: 512, k: 512, mask: true },
  { name: "fc7 weight grad (row sums)", m: 512, n: 512, k: 32, transA: true, rowSums: true },
  { name: "fc8 weight grad (row sums)", m: 10, n: 512, k: 32, transA: true, rowSums: true },
  { name: "257×1023×511", m: 257, n: 1023, k: 511 },
  { name: "33×517×1031", m: 33, n: 517, k: 1031 },
  { name: "fc7 forward 16×4096→4096", m: 16, n: 4096, k: 4096, transB: true, bias: true },
];

const device = await Device.acquire();
console.log(`matmul, ${values.base} (base) against this checkout, ${device.describe()}`);
const stream = { seed: [1, 2] as const, offset: 0 };
for (const c of cases) {
  const a = device.alloc(c.m * c.k * 4), b = device.alloc(c.k * c.n * 4);
  const out = device.alloc(c.m * c.n * 4), mask = device.alloc(c.m * c.n * 4);
  const bias = device.alloc(Math.max(c.m, c.n) * 4), rowSums = device.alloc(c.m * 4);
  for (const [buffer, n] of [[a, c.m * c.k], [b, c.k * c.n], [mask, c.m * c.n]] as const) {
    fillRandom(device, buffer, n, { kind: "normal", mean: 0, std: 1 }, stream);
  }
  fillRandom(device, bias, Math.max(c.m, c.n), { kind: "normal", mean: 0, std: 1 }, stream);
  const args: MatmulArgs = {
    a,
    b,
    out,
    m: c.m,
    n: c.n,
    k: c.k,
    transA: c.transA,
    transB: c.transB,
    bias: c.bias ? bias : undefined,
    relu: c.relu,
    mask: c.mask ? mask : undefined,
    rowSums: c.rowSums ? rowSums : undefined,
  };
  const result = async (f: typeof matmul) => {
    f(device, args);
    return new Float32Array(await device.read(out, 0, c.m * c.n * 4));
  };
  const [x, y] = [await result(baseMatmul), await result(matmul)];
  const differ = x.findIndex((v, i) => !Object.is(v, y[i]));
  // About 0.2 GFLOP a timing: long enough for the clock, short enough for lavapipe.
  const reps = Math.max(1, Math.round(1e8 / (c.m * c.n * c.k)));
  const time = async (f: typeof matmul) => {
    const start = performance.now();
    for (let i = 0; i < reps; i++) f(device, args);
    await device.sync();
    return (performance.now() - start) / reps;
  };
  const base: number[] = [], ours: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so that neither always follows the other's work.
    if (r % 2) ours.push(await time(matmul)), base.push(await time(baseMatmul));
    else base.push(await time(baseMatmul)), ours.push(await time(matmul));
  }
  const [mb, mo] = [median(base), median(ours)],
    gf = (ms: number) => 2 * c.m * c.n * c.k / ms / 1e6;
  console.log(
    `${c.name.padEnd(28)} base ${mb.toFixed(3)} ms ${gf(mb).toFixed(2)} GFLOP/s | ` +
      `this ${mo.toFixed(3)} ms ${gf(mo).toFixed(2)} GFLOP/s | this/base ${(mo / mb).toFixed(3)}` +
      (differ < 0 ? " | same result" : ` | RESULTS DIFFER at ${differ}`),
  );
  for (const buffer of [a, b, out, mask, bias, rowSums]) device.release(buffer);
}
device.destroy();
