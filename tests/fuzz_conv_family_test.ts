/**
 * The convolution family on random shapes against float64: transposed convolutions of random
 * geometry (strides, paddings, output paddings, dilations, groups: every input-gradient
 * algorithm of the convolution it runs on), resampling of random sizes and modes, and padding
 * of random pads and modes, adaptive max pooling of random sizes; forward and gradients by central differences. `FUZZ_SEED=s
 * FUZZ_ITERS=k` runs k times as many cases from seed s (see `_fuzz.ts`).
 */

import {
  adaptiveMaxPool2d,
  convTranspose2d,
  defaultDevice,
  interpolate,
  pad,
  type PadMode,
} from "../mod.ts";
import {
  adaptiveMaxPool2d as adaptiveMaxRef,
  convTranspose2d as convTRef,
  interpolate2d,
  pad as padRef,
} from "./_conv_family_reference.ts";
import { Draw, fuzzSeeds } from "./_fuzz.ts";
import { mulberry32 } from "./_reference.ts";
import { check, normal, type OpCase, warmUp } from "./_tensor_check.ts";

/** Checks a case after a warm-up (its first run fills the kernels' caches). */
async function checkWarm(c: OpCase, seed: number): Promise<void> {
  const device = await defaultDevice();
  await warmUp(c);
  await check(device, c, mulberry32(seed));
}

Deno.test("fuzz: convTranspose2d of random geometry against float64", async (t) => {
  for (const seed of fuzzSeeds("convTranspose2d", 12)) {
    const d = new Draw(seed);
    const groups = d.pick([1, 1, 2, 3]);
    const cin = groups * d.int(1, 3), perGroup = d.int(1, 3);
    const kernel = [d.int(1, 5), d.int(1, 5)];
    const stride = [d.int(1, 3), d.int(1, 3)];
    const dilation = d.chance(0.3) ? [d.int(1, 3), d.int(1, 2)] : [1, 1];
    const size = [d.int(1, 7), d.int(1, 7)];
    const padding = [0, 1].map((i) =>
      d.int(0, Math.floor(((size[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1)) / 2))
    );
    const outputPadding = [0, 1].map((i) => d.int(0, Math.max(stride[i], dilation[i]) - 1));
    const options = { stride, padding, outputPadding, dilation, groups } as const;
    const pairs = {
      stride: stride as [number, number],
      padding: padding as [number, number],
      outputPadding: outputPadding as [number, number],
      dilation: dilation as [number, number],
      groups,
    };
    const bias = d.chance(0.5);
    const x = [d.int(1, 3), cin, ...size], w = [cin, perGroup, ...kernel];
    const rng = mulberry32(seed);
    const c: OpCase = {
      name: `seed ${seed}: x [${x}] w [${w}] ${JSON.stringify(options)}${bias ? " bias" : ""}`,
      inputs: [
        normal(x, rng),
        normal(w, rng),
        ...(bias ? [normal([perGroup * groups], rng)] : []),
      ],
      run: ([xs, ws, bs]) => convTranspose2d(xs, ws, bs ?? null, pairs),
      ref: ([xr, wr, br]) => convTRef(xr, wr, br ?? null, pairs),
      forwardTol: 1e-4,
      gradTol: 1e-3,
    };
    await t.step(c.name, () => checkWarm(c, seed));
  }
});

Deno.test("fuzz: interpolate of random sizes and modes against float64", async (t) => {
  for (const seed of fuzzSeeds("interpolate", 10)) {
    const d = new Draw(seed);
    const mode = d.pick(["nearest", "nearest-exact", "bilinear", "bicubic"] as const);
    const smooth = mode === "bilinear" || mode === "bicubic";
    const alignCorners = smooth && d.chance(0.5) ? true : undefined;
    const size = [d.int(1, 9), d.int(1, 9)];
    const byScale = d.chance(0.5);
    const scales = [0, 1].map(() => d.pick([0.5, 0.7, 1, 1.5, 2, 2.3, 3]));
    const out = byScale
      ? size.map((s, i) => Math.floor(s * scales[i]))
      : [d.int(1, 12), d.int(1, 12)];
    if (out.some((o) => o < 1)) continue;
    const options = byScale
      ? { scaleFactor: scales, mode, alignCorners }
      : { size: out, mode, alignCorners };
    const axis = (i: number) => ({
      mode: mode === "bilinear" ? "linear" as const : mode === "bicubic" ? "cubic" as const : mode,
      alignCorners,
      scale: byScale ? scales[i] : null,
    });
    const x = [d.int(1, 2), d.int(1, 3), ...size];
    const c: OpCase = {
      name: `seed ${seed}: [${x}] ${JSON.stringify(options)}`,
      inputs: [normal(x, mulberry32(seed))],
      run: ([xs]) => interpolate(xs, options),
      ref: ([xr]) => interpolate2d(xr, out as [number, number], axis(0), axis(1)),
    };
    await t.step(c.name, () => checkWarm(c, seed));
  }
});

Deno.test("fuzz: pad of random pads and modes against float64", async (t) => {
  for (const seed of fuzzSeeds("pad", 10)) {
    const d = new Draw(seed);
    const mode = d.pick(["constant", "reflect", "replicate", "circular"] as PadMode[]);
    const rank = d.int(2, 5);
    const shape = Array.from({ length: rank }, () => d.int(1, 5));
    const axes = d.int(1, Math.min(3, rank));
    const pads: number[] = [];
    for (let k = 0; k < axes; k++) {
      const size = shape[rank - 1 - k];
      const most = mode === "reflect" ? size - 1 : mode === "circular" ? size : 3;
      pads.push(d.int(0, most), d.int(0, most));
    }
    const value = mode === "constant" ? d.pick([0, 1.5]) : undefined;
    const c: OpCase = {
      name: `seed ${seed}: ${mode} [${shape}] pads [${pads}]`,
      inputs: [normal(shape, mulberry32(seed))],
      run: ([xs]) => pad(xs, pads, mode === "constant" ? { value } : { mode }),
      ref: ([xr]) => padRef(xr, pads, mode, value ?? 0),
    };
    await t.step(c.name, () => checkWarm(c, seed));
  }
});

Deno.test("fuzz: adaptive max pooling of random sizes against float64", async (t) => {
  for (const seed of fuzzSeeds("adaptiveMaxPool2d", 8)) {
    const d = new Draw(seed);
    const x = [d.int(1, 3), d.int(1, 4), d.int(1, 12), d.int(1, 12)];
    const out: [number, number] = [d.int(1, 14), d.int(1, 14)];
    const c: OpCase = {
      name: `seed ${seed}: [${x}] → ${out}`,
      inputs: [normal(x, mulberry32(seed))],
      run: ([xs]) => adaptiveMaxPool2d(xs, out),
      ref: ([xr]) => adaptiveMaxRef(xr, out),
    };
    await t.step(c.name, () => checkWarm(c, seed));
  }
});
