/**
 * The register GEMM's 32-row tile against its 48-row tile (software adapters with subgroups),
 * side by side on products whose B is read as scalars (odd N, or a transposed B of odd depth)
 * or as vec4s, with and without extra padded rows: the measurements behind the default row
 * tile (`registerTile` in `kernels/_matmul_tiles.ts`). Each case checks that both tiles give
 * the same result, then times them alternately (`--rounds`, default 11) by the CPU time of
 * every thread of the process (lavapipe's workers do the work: steadier than wall or GPU time
 * on a shared machine) and prints the medians and the ratio 48/32.
 *
 *     deno run -A bench/register_rows.ts --rounds 11
 *
 * @module
 */

import { parseArgs } from "node:util";
import { median } from "./_timing.ts";
import { Device } from "../kernels/device.ts";
import { matmul, type MatmulArgs, SUBGROUP_TILES } from "../kernels/matmul.ts";
import { fillRandom } from "../kernels/random.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "11" } },
  strict: true,
});
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error("--rounds must be a positive integer");

/** One product: sizes, layout, and how B is read. */
interface Case {
  name: string;
  m: number;
  n: number;
  k: number;
  batch?: number;
  transA?: boolean;
  transB?: boolean;
  sumBatch?: boolean;
  rowSums?: boolean;
  /** One A for every matrix of the batch (a 1×1 convolution's weights). */
  sharedA?: boolean;
}

const cases: Case[] = [
  { name: "1×1 fwd 2× 96×729×64 (B scalar)", m: 96, n: 729, k: 64, batch: 2, sharedA: true },
  {
    name: "1×1 dW 96×64×(2×729) (B scalar)",
    ...{ m: 96, n: 64, k: 729, batch: 2, transB: true, sumBatch: true },
  },
  { name: "257×1023×511 (B scalar)", m: 257, n: 1023, k: 511 },
  { name: "384×511×32 tA (B scalar)", m: 384, n: 511, k: 32, transA: true },
  { name: "384×511×128 (B scalar)", m: 384, n: 511, k: 128 },
  { name: "100×1023×128 (B scalar, pads)", m: 100, n: 1023, k: 128 },
  { name: "127×253×129 (B scalar, pads)", m: 127, n: 253, k: 129 },
  { name: "512×511×32 tA (B scalar, pads)", m: 512, n: 511, k: 32, transA: true },
  { name: "fc7 dW 512×512×32 (B vec4, pads)", m: 512, n: 512, k: 32, transA: true, rowSums: true },
  { name: "fc6 dW 512×128×32 (B vec4, pads)", m: 512, n: 128, k: 32, transA: true, rowSums: true },
  { name: "384×512×32 tA (B vec4)", m: 384, n: 512, k: 32, transA: true },
  { name: "384×512×128 (B vec4)", m: 384, n: 512, k: 128 },
  { name: "257×1024×511 (B vec4)", m: 257, n: 1024, k: 511 },
  { name: "2× 96×728×64 (B vec4)", m: 96, n: 728, k: 64, batch: 2, sharedA: true },
];

/** CPU nanoseconds of every thread of this process so far (Linux). */
function cpuNs(): number {
  let sum = 0;
  for (const task of Deno.readDirSync("/proc/self/task")) {
    try {
      sum += Number(Deno.readTextFileSync(`/proc/self/task/${task.name}/schedstat`).split(" ")[0]);
    } catch {
      // A thread that ended since the listing.
    }
  }
  return sum;
}

const device = await Device.acquire();
if (!device.hasSubgroups) throw new Error("the register GEMM needs subgroups");
console.log(`register GEMM 32×32 against 48×32, ${device.describe()}, ${rounds} rounds`);
const [rows32, rows48] = [SUBGROUP_TILES[1], SUBGROUP_TILES[3]];
const stream = { seed: [1, 2] as const, offset: 0 };
for (const c of cases) {
  const batch = c.batch ?? 1;
  const sizeA = (c.sharedA ? 1 : batch) * c.m * c.k, sizeB = batch * c.k * c.n;
  const sizeOut = (c.sumBatch ? 1 : batch) * c.m * c.n;
  const a = device.alloc(sizeA * 4), b = device.alloc(sizeB * 4);
  const out = device.alloc(sizeOut * 4), rowSums = device.alloc(c.m * 4);
  fillRandom(device, a, sizeA, { kind: "normal", mean: 0, std: 1 }, stream);
  fillRandom(device, b, sizeB, { kind: "normal", mean: 0, std: 1 }, stream);
  const args: MatmulArgs = {
    a,
    b,
    out,
    m: c.m,
    n: c.n,
    k: c.k,
    batch,
    batchStrideA: c.sharedA ? 0 : undefined,
    transA: c.transA,
    transB: c.transB,
    sumBatch: c.sumBatch,
    rowSums: c.rowSums ? rowSums : undefined,
  };
  const result = async (tile: typeof rows32) => {
    matmul(device, { ...args, tile });
    return new Float32Array(await device.read(out, 0, sizeOut * 4));
  };
  const [x, y] = [await result(rows32), await result(rows48)];
  const same = x.every((v, i) => Object.is(v, y[i]));
  // About 0.2 GFLOP a timing: long enough for the thread clocks.
  const reps = Math.max(1, Math.round(1e8 / (batch * c.m * c.n * c.k)));
  const time = async (tile: typeof rows32) => {
    await device.sync();
    const start = cpuNs();
    for (let i = 0; i < reps; i++) matmul(device, { ...args, tile });
    await device.sync();
    return (cpuNs() - start) / 1e6 / reps;
  };
  const ms32: number[] = [], ms48: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so that neither always follows the other's work.
    if (r % 2) ms48.push(await time(rows48)), ms32.push(await time(rows32));
    else ms32.push(await time(rows32)), ms48.push(await time(rows48));
  }
  const ratios = ms48.map((v, i) => v / ms32[i]).sort((p, q) => p - q);
  const [m32, m48] = [median(ms32), median(ms48)];
  console.log(
    `${c.name.padEnd(34)} 32 rows ${m32.toFixed(2)} ms | 48 rows ${m48.toFixed(2)} ms | ` +
      `48/32 ${(m48 / m32).toFixed(3)} (pairs' median ${median(ratios).toFixed(3)})` +
      (same ? " | same result" : " | RESULTS DIFFER"),
  );
  for (const buffer of [a, b, out, rowSums]) device.release(buffer);
}
device.destroy();
