/**
 * Matmul benchmark: square sizes and AlexNet's fully connected shapes (x · Wᵀ with the weight in
 * PyTorch's [out, in] layout, as nn.Linear runs it).
 *
 * @module
 */

import type { Device } from "../kernels/device.ts";
import { matmul } from "../kernels/matmul.ts";
import { fillRandom } from "../kernels/random.ts";
import { gflops, timeGpu, tunedSync } from "./_timing.ts";

/** One matmul measurement. */
export interface MatmulResult {
  name: string;
  m: number;
  n: number;
  k: number;
  ms: number;
  gflops: number;
}

/** The shapes measured: small on a software adapter, AlexNet's at batch 128 on a GPU. */
export function matmulCases(
  software: boolean,
): { name: string; m: number; n: number; k: number; transB: boolean }[] {
  const square = software ? [128, 256, 512] : [512, 1024, 2048, 4096];
  const batch = software ? 16 : 128;
  return [
    ...square.map((s) => ({ name: `square ${s}`, m: s, n: s, k: s, transB: false })),
    { name: `fc6 fwd (batch ${batch})`, m: batch, n: 4096, k: 9216, transB: true },
    { name: `fc7 fwd (batch ${batch})`, m: batch, n: 4096, k: 4096, transB: true },
    { name: `fc8 fwd (batch ${batch})`, m: batch, n: 1000, k: 4096, transB: true },
  ];
}

/** Runs every case on `device`. */
export async function benchMatmul(device: Device): Promise<MatmulResult[]> {
  const results: MatmulResult[] = [];
  for (const c of matmulCases(device.isSoftware)) {
    const a = device.alloc(c.m * c.k * 4), b = device.alloc(c.k * c.n * 4);
    const out = device.alloc(c.m * c.n * 4);
    const stream = { seed: [1, 2] as const, offset: 0 };
    fillRandom(device, a, c.m * c.k, { kind: "normal", mean: 0, std: 1 }, stream);
    fillRandom(device, b, c.k * c.n, { kind: "normal", mean: 0, std: 0.01 }, stream);
    const t = await timeGpu(
      () => matmul(device, { a, b, out, m: c.m, n: c.n, k: c.k, transB: c.transB }),
      () => tunedSync(device),
      { iterations: device.isSoftware ? 2 : 20, minMs: device.isSoftware ? 0 : 200 },
    );
    results.push({ ...c, ms: t.ms, gflops: gflops(2 * c.m * c.n * c.k, t.ms) });
    [a, b, out].forEach((buf) => device.release(buf));
  }
  return results;
}
