/**
 * The convolution family against float64 references: the transposed convolution (2-D and
 * 1-D) and the 1-D convolution, forward and gradients by central differences, at odd sizes
 * and across strides, paddings, output paddings, dilations and groups, on strided input views
 * too; and their errors.
 */

import assert from "node:assert/strict";
import {
  conv1d,
  convTranspose1d,
  convTranspose2d,
  type ConvTranspose2dOptions,
  defaultDevice,
  ones,
  type Tensor,
  tensor,
} from "../mod.ts";
import * as ref from "./_reference.ts";
import { convTranspose2d as convTRef, drop, lift } from "./_conv_family_reference.ts";
import { checkAll, normal, type OpCase } from "./_tensor_check.ts";

const rng = ref.mulberry32(2026);
const n = (...shape: number[]) => normal(shape, rng);
const both = (v: number | [number, number] | undefined): [number, number] | undefined =>
  v === undefined ? undefined : typeof v === "number" ? [v, v] : v;

/** A transposed convolution case: x, w, bias (or none) and the options. */
function transposed(
  x: number[],
  w: number[],
  bias: boolean,
  options: ConvTranspose2dOptions & { stride?: number | [number, number] } = {},
): OpCase {
  const opts = {
    stride: both(options.stride as number),
    padding: both(options.padding as number),
    outputPadding: both(options.outputPadding as number),
    dilation: both(options.dilation as number),
    groups: options.groups,
  };
  const shown = Object.entries(options).map(([k, v]) => `${k} ${v}`).join(", ");
  return {
    name: `x [${x}] w [${w}]${bias ? " bias" : ""}${shown ? ` (${shown})` : ""}`,
    inputs: bias ? [n(...x), n(...w), n(w[1] * (options.groups ?? 1))] : [n(...x), n(...w)],
    run: ([xt, wt, b]) => convTranspose2d(xt, wt, b ?? null, options),
    ref: ([xr, wr, br]) => convTRef(xr, wr, br ?? null, opts),
  };
}

Deno.test("convTranspose2d: forward and gradients against float64", async (t) => {
  const device = await defaultDevice();
  await checkAll(
    t,
    device,
    [
      transposed([2, 3, 5, 5], [3, 4, 3, 3], true),
      transposed([1, 2, 4, 3], [2, 3, 3, 3], true, { stride: 2, padding: 1, outputPadding: 1 }),
      transposed([2, 4, 3, 5], [4, 1, 3, 2], false, { stride: 2, dilation: 2, groups: 2 }),
      transposed([1, 6, 3, 4], [6, 2, 2, 3], true, { stride: [1, 3], padding: [0, 1], groups: 3 }),
      // The output padding reaches the stride (allowed below the dilation): the convolution of
      // the output maps onto one more row and column than the input has.
      transposed([1, 2, 3, 4], [2, 2, 3, 3], true, { dilation: 2, outputPadding: 1 }),
      transposed([1, 1, 1, 1], [1, 7, 3, 3], true, { stride: 3 }),
      transposed([1, 3, 7, 7], [3, 2, 5, 5], false, { stride: 2, padding: 2 }),
      transposed([2, 2, 3, 3], [2, 3, 2, 2], true, { stride: 3, padding: 1, outputPadding: 2 }),
      transposed([1, 2, 6, 5], [2, 2, 3, 3], false, { padding: 2 }),
      transposed([1, 33, 2, 2], [33, 1, 1, 1], false),
    ],
    rng,
    true,
  );
});

Deno.test("convTranspose2d: strided (channels-last) input views", async (t) => {
  const device = await defaultDevice();
  const nhwc = (x: ref.F64) => ref.permute(x, [0, 3, 1, 2]);
  await checkAll(
    t,
    device,
    [{
      name: "x [2, 5, 4, 3] NHWC permuted to NCHW, stride 2",
      inputs: [n(2, 5, 4, 3), n(3, 2, 3, 3), n(2)],
      run: ([x, w, b]) => convTranspose2d(x.permute([0, 3, 1, 2]), w, b, { stride: 2 }),
      ref: ([x, w, b]) => convTRef(nhwc(x), w, b, { stride: [2, 2] }),
    }, {
      name: "weight transposed from [Cout, Cin, KH, KW]",
      inputs: [n(1, 3, 4, 4), n(2, 3, 3, 3)],
      run: ([x, w]) => convTranspose2d(x, w.permute([1, 0, 2, 3]), null, { padding: 1 }),
      ref: ([x, w]) => convTRef(x, ref.permute(w, [1, 0, 2, 3]), null, { padding: [1, 1] }),
    }],
    rng,
    true,
  );
});

Deno.test("convTranspose2d: outputSize chooses the output padding", async () => {
  await defaultDevice();
  const x = tensor([[[[1, 2], [3, 4]]]]);
  const w = ones([1, 1, 3, 3]);
  for (const size of [6, 7, 8] as const) {
    const y = convTranspose2d(x, w, null, { stride: 3, outputSize: [size, 8] });
    assert.deepEqual(y.shape, [1, 1, size, 8]);
    const padded = convTranspose2d(x, w, null, { stride: 3, outputPadding: [size - 6, 2] });
    assert.deepEqual(await y.toArray(), await padded.toArray());
  }
  assert.throws(
    () => convTranspose2d(x, w, null, { stride: 3, outputSize: [9, 5] }),
    /convTranspose2d: outputSize \[9,5\] is not a valid size: for an input of 2×2 it ranges from 6×6 to 8×8/,
  );
});

Deno.test("convTranspose2d: errors name the problem", async () => {
  await defaultDevice();
  const x = ones([1, 4, 3, 3]);
  const cases: [() => Tensor, RegExp][] = [
    [
      () => convTranspose2d(x, ones([4, 2, 3, 3]), null, { outputPadding: 1 }),
      /outputPadding must be smaller than either stride or dilation, got outputPadding 1,1 for stride 1,1 and dilation 1,1/,
    ],
    [
      () => convTranspose2d(x, ones([3, 2, 3, 3]), null),
      /input has 4 channels but weight \[3,2,3,3\] with 1 group expects 3/,
    ],
    [
      () => convTranspose2d(x, ones([4, 2, 3, 3]), null, { groups: 3 }),
      /input has 4 channels but weight \[4,2,3,3\] with 3 groups expects 4 \(a multiple of 3\)/,
    ],
    [
      () => convTranspose2d(x, ones([4, 2, 3, 3]), ones([3])),
      /bias \[3\] does not match 2 output channels/,
    ],
    [
      () => convTranspose2d(x, ones([4, 2, 3, 3]), null, { padding: 3 }),
      /an input of 3×3 gives an output of -1×-1 .*too small/,
    ],
    [
      () => convTranspose2d(x, ones([4, 2, 3, 3]), null, { stride: 0 }),
      /stride must be a positive/,
    ],
    [
      () => convTranspose2d(ones([4, 3]), ones([4, 2, 3, 3]), null),
      /expected x \[Cin, H, W\] or \[N, Cin, H, W\]/,
    ],
  ];
  for (const [run, message] of cases) assert.throws(run, message);
});

Deno.test("conv1d and convTranspose1d: forward and gradients against float64", async (t) => {
  const device = await defaultDevice();
  const conv = (x: number[], w: number[], options: Parameters<typeof conv1d>[3] & object) => {
    const padding = options.padding ?? 0;
    const kernel = w[2], d = options.dilation ?? 1;
    // "same": dilation·(K − 1) in all, the odd one after the input (PyTorch's).
    const total = padding === "same" ? d * (kernel - 1) : 0;
    const before = padding === "same" ? Math.floor(total / 2) : padding === "valid" ? 0 : padding;
    return {
      name: `conv1d x [${x}] w [${w}] ${JSON.stringify(options)}`,
      inputs: [n(...x), n(...w), n(w[0])],
      run: ([xt, wt, b]: Tensor[]) => conv1d(xt, wt, b, options),
      ref: ([xr, wr, br]: ref.F64[]) => {
        // PyTorch's asymmetric "same" as an explicit zero pad before and after.
        const pad = (xx: ref.F64, lo: number, hi: number) => {
          const [a, c, l] = xx.shape;
          const out = ref.zeros([a, c, l + lo + hi]);
          for (let r = 0; r < a * c; r++) {
            for (let i = 0; i < l; i++) out.data[r * (l + lo + hi) + lo + i] = xx.data[r * l + i];
          }
          return out;
        };
        const padded = padding === "same" ? pad(xr, before, total - before) : xr;
        const p = padding === "same" ? 0 : before;
        return drop(ref.conv2d(lift(padded), lift(wr), br, {
          stride: [1, options.stride ?? 1],
          padding: [0, p],
          dilation: [1, d],
          groups: options.groups,
        }));
      },
    };
  };
  await checkAll(
    t,
    device,
    [
      conv([2, 3, 33], [4, 3, 5], {}),
      conv([1, 4, 7], [6, 2, 3], { stride: 2, padding: 1, groups: 2 }),
      conv([2, 2, 9], [3, 2, 4], { padding: "same", dilation: 2 }),
      conv([1, 3, 8], [2, 3, 4], { padding: "same" }),
      conv([1, 1, 1], [1, 1, 1], { padding: "valid" }),
      conv([1, 2, 11], [2, 1, 3], { dilation: 3, stride: 2, groups: 2, padding: 2 }),
      {
        name: "convTranspose1d x [2, 3, 7] w [3, 2, 4] stride 2 padding 1 outputPadding 1",
        inputs: [n(2, 3, 7), n(3, 2, 4), n(2)],
        run: ([x, w, b]) => convTranspose1d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }),
        ref: ([x, w, b]) =>
          drop(convTRef(lift(x), lift(w), b, {
            stride: [1, 2],
            padding: [0, 1],
            outputPadding: [0, 1],
          })),
      },
      {
        name: "convTranspose1d x [1, 4, 5] w [4, 3, 3] groups 2 dilation 2, from NLC",
        inputs: [n(1, 5, 4), n(4, 3, 3)],
        run: ([x, w]) => convTranspose1d(x.permute([0, 2, 1]), w, null, { groups: 2, dilation: 2 }),
        ref: ([x, w]) =>
          drop(convTRef(lift(ref.permute(x, [0, 2, 1])), lift(w), null, {
            dilation: [1, 2],
            groups: 2,
          })),
      },
    ],
    rng,
    true,
  );
});

Deno.test("conv1d: errors name the 1-D problem", async () => {
  await defaultDevice();
  const x = ones([1, 4, 5]), w = ones([4, 2, 3]);
  const transposed: [() => unknown, RegExp][] = [
    [
      () => convTranspose1d(x, w, null, { outputPadding: 1 }),
      /convTranspose1d: outputPadding must be smaller than either stride or dilation, got outputPadding 1 for stride 1 and dilation 1/,
    ],
    [
      () => convTranspose1d(x, w, null, { stride: 2, outputSize: 13 }),
      /convTranspose1d: outputSize \[13\] is not a valid size: for an input of 5 it ranges from 11 to 12/,
    ],
    [
      () => convTranspose1d(x, ones([3, 2, 3]), null),
      /convTranspose1d: input has 4 channels but weight \[3,2,3\] with 1 group expects 3/,
    ],
    [() => convTranspose1d(x, w, ones([3])), /convTranspose1d: bias \[3\] does not match 2/],
    [() => convTranspose1d(x, w, null, { padding: 4 }), /an input of 5 gives an output of -1/],
  ];
  for (const [run, message] of transposed) assert.throws(run, message);
  assert.throws(
    () => conv1d(ones([1, 2, 4]), ones([1, 2, 7]), null),
    /conv1d: input \[1,2,4\]: a 7-tap kernel \(dilation 1, spanning 7; padding 0\) does not fit a length of 4/,
  );
  assert.throws(
    () => conv1d(ones([1, 2, 4]), ones([1, 2, 3]), null, { padding: "same", stride: 2 }),
    /conv1d: padding "same" needs stride 1/,
  );
  assert.throws(
    () => conv1d(ones([1, 2, 4, 4]), ones([1, 2, 3]), null),
    /expected x \[C, L\] or \[N, C, L\]/,
  );
  assert.throws(
    () => conv1d(ones([1, 4, 5]), ones([3, 3, 2]), null),
    /conv1d: input \[1,4,5\] has 4 channels but weight \[3,3,2\] with 1 group expects 3/,
  );
  assert.throws(
    () => conv1d(ones([1, 4, 5]), ones([3, 2, 2]), null, { groups: 2 }),
    /expects 4 \(and 3 outputs divisible by 2\)/,
  );
  assert.throws(
    () => conv1d(ones([1, 2, 5]), ones([3, 2, 2]), ones([2])),
    /bias \[2\] does not match 3/,
  );
  assert.throws(() => conv1d(ones([1, 2, 4]), ones([1, 2, 3]), null, { stride: 0 }), /stride/);
});
