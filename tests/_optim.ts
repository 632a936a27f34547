/**
 * What the optimiser tests share: seeded random data, setting a parameter's gradient, and a
 * snapshot of every parameter and state tensor of an optimiser (to compare runs bit for bit).
 */

import { fromTypedArray, keep, type Tensor } from "../mod.ts";
import type { Device } from "../kernels/device.ts";
import type { Optimizer } from "../train/optimizer.ts";
import type { ParamGroupOptions } from "../train/sgd.ts";
import { ArrayDataset } from "../train/data/array_dataset.ts";
import { mulberry32 } from "./_reference.ts";

/** `n` values uniform in [−scale, scale), the same for the same seed. */
export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (rng() * 2 - 1) * scale);
}

/** Sets (or, with undefined, removes) a parameter's gradient. */
export function setGrad(p: Tensor, data: Float32Array | undefined): void {
  p.grad?.dispose();
  p.grad = data
    ? keep(fromTypedArray(data, p.shape as readonly number[], { device: p.device }))
    : null;
}

/** Parameters of `sizes` on `on` with random values and gradients. */
export function parametersWithGrads(on: Device, sizes: readonly number[], seed: number): Tensor[] {
  return sizes.map((n, k) => {
    const p = keep(fromTypedArray(randomArray(n, seed + k), [n], { device: on }));
    setGrad(p, randomArray(n, seed + 50 + k));
    return p;
  });
}

/** Every parameter and every state tensor of `opt`, as arrays. */
export async function snapshot(
  opt: Optimizer,
  params: readonly Tensor[],
): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, p] of params.entries()) out[`param${k}`] = Array.from(await p.data());
  const state = await opt.stateDict();
  for (const [key, t] of Object.entries(state.state)) {
    out[key] = Array.from(await t.data());
    t.dispose();
  }
  return out;
}

/** A state dict as a checkpoint holds it: JSON, and the tensors as host data. */
export async function hostStateDict(opt: Optimizer) {
  const dict = await opt.stateDict();
  const state = Object.fromEntries(
    await Promise.all(
      Object.entries(dict.state).map(async ([k, t]) =>
        [k, { shape: [...t.shape], data: await t.data() as Float32Array }] as const
      ),
    ),
  );
  for (const t of Object.values(dict.state)) t.dispose();
  return { ...JSON.parse(JSON.stringify({ ...dict, state: {} })), state };
}

/** Copies of `params` (values and gradients) on the same devices. */
export async function copyParams(params: readonly Tensor[]): Promise<Tensor[]> {
  const out: Tensor[] = [];
  for (const p of params) {
    const copy = keep(
      fromTypedArray(await p.data() as Float32Array, p.shape as readonly number[], {
        device: p.device,
      }),
    );
    setGrad(copy, p.grad ? await p.grad.data() as Float32Array : undefined);
    out.push(copy);
  }
  return out;
}

/** Throws unless every value of `got` is within `rel`·(1 + |want|) of `want`. */
export function assertClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  rel: number,
  what: string,
): void {
  if (got.length !== want.length) {
    throw new Error(`${what}: ${got.length} values, expected ${want.length}`);
  }
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= rel * (1 + Math.abs(want[i])))) {
      throw new Error(`${what} [${i}]: ${got[i]} vs ${want[i]}`);
    }
  }
}

/** An SGD group's constants, every one given. */
export type SgdConstants = Required<Omit<ParamGroupOptions, "params" | "names" | "maximize">> & {
  maximize?: boolean;
};

/** One parameter in float64: its weights, and torch's momentum buffer (null before a step). */
export interface SgdReference {
  w: Float64Array;
  buf: Float64Array | null;
}

/**
 * One step of torch.optim.SGD (`_single_tensor_sgd`) in float64, or of the paper's rule, whose
 * velocity is −ε times the buffer accumulated with each step's ε. With momentum 0 torch keeps
 * no buffer and ignores the dampening: the step is −ε·d. `maximize` flips g's sign first.
 */
export function sgdReferenceStep(r: SgdReference, g: ArrayLike<number>, h: SgdConstants): void {
  const n = r.w.length;
  const sign = h.maximize ? -1 : 1;
  const d = Float64Array.from({ length: n }, (_, i) => sign * g[i] + h.weightDecay * r.w[i]);
  // For the paper's rule buf holds −v: each step's d enters scaled by that step's ε.
  const scale = h.formulation === "paper" ? h.lr : 1;
  const outer = h.formulation === "paper" ? 1 : h.lr;
  if (h.momentum === 0) {
    for (let i = 0; i < n; i++) r.w[i] -= outer * scale * d[i];
    return;
  }
  if (r.buf === null) r.buf = d.map((x) => scale * x);
  else {
    for (let i = 0; i < n; i++) {
      r.buf[i] = h.momentum * r.buf[i] + (1 - h.dampening) * scale * d[i];
    }
  }
  for (let i = 0; i < n; i++) {
    const dir = h.nesterov ? scale * d[i] + h.momentum * r.buf[i] : r.buf[i];
    r.w[i] -= outer * dir;
  }
}

/** Noise with one brighter colour channel per class (3 classes): learnt in a few epochs. */
export function brightChannel(count: number, seed: number, size = 8): ArrayDataset {
  const rng = mulberry32(seed);
  const pixels = new Uint8Array(count * size * size * 3);
  const labels = Int32Array.from({ length: count }, (_, i) => i % 3);
  pixels.forEach((_, k) => {
    pixels[k] = Math.floor(rng() * 120) +
      (k % 3 === labels[Math.floor(k / (size * size * 3))] ? 100 : 0);
  });
  return new ArrayDataset({
    pixels,
    labels,
    height: size,
    width: size,
    classNames: ["r", "g", "b"],
  });
}
