/**
 * A seeded randomized sweep of the PyTorch-parity ops through the public API, against the
 * float64 reference, forward and gradients: min, var, std, logsumexp and prod over random axes
 * (negative or not, keepdim or not); argmax and argmin on quantised values (ties), with NaNs,
 * f32 and i32; maximum, minimum, where, clamp and the comparisons with random broadcasting;
 * and random chains of squeeze, unsqueeze, flatten, expand and stack.
 * `FUZZ_SEED=s FUZZ_ITERS=k` runs k times as many cases.
 */

import assert from "node:assert/strict";
import {
  argmax,
  argmin,
  defaultDevice,
  fromTypedArray,
  logsumexp,
  maximum,
  min,
  minimum,
  prod,
  stack,
  std,
  where,
} from "../mod.ts";
import * as ref from "./_reference.ts";
import { check, normal } from "./_tensor_check.ts";
import { Draw, fuzzSeeds } from "./_fuzz.ts";

/** A random shape of `rank` axes, each 1–`most`. */
function shapeOf(d: Draw, rank: number, most: number): number[] {
  return Array.from({ length: rank }, () => d.int(1, most));
}

/** Some of the axes of a rank-`rank` tensor, each negative or not. */
function axesOf(d: Draw, rank: number): number[] {
  return [...Array(rank).keys()].filter(() => d.chance(0.5)).map((a) =>
    d.chance(0.5) ? a - rank : a
  );
}

/** `shape` with some axes set to 1 and some leading ones dropped: a shape that broadcasts to it. */
function broadcastable(d: Draw, shape: number[]): number[] {
  return shape.slice(d.int(0, shape.length)).map((s) => (d.chance(0.4) ? 1 : s));
}

Deno.test("fuzz: parity ops on random shapes against float64", async (t) => {
  const device = await defaultDevice();

  for (const seed of fuzzSeeds("parity reductions", 8)) {
    await t.step(`min, var, std, logsumexp and prod over axes, seed ${seed}`, async () => {
      const d = new Draw(seed);
      const rank = d.int(1, 4);
      const shape = shapeOf(d, rank, 7);
      const axes = axesOf(d, rank);
      const keepdim = d.chance(0.5);
      const count = ref.numel(axes.map((a) => shape[a < 0 ? a + rank : a]));
      // A divisor of at least 1, so that the variance and its gradient are finite.
      const correction = Math.min(d.int(0, 2), count - 1);
      const list = axes.length > 0 ? axes : null;
      const label = `[${shape}] axes [${axes}] keepdim ${keepdim} correction ${correction}`;
      const options = { correction, keepdim };
      await check(device, {
        name: label,
        inputs: [normal(shape, d.next)],
        // One element per row has a standard deviation of 0, where it has no slope: left out.
        run: ([x]) => [
          min(x, axes, keepdim),
          x.var(axes, options),
          logsumexp(x, axes, keepdim),
          ...(count > 1 ? [std(x, axes, options)] : []),
        ],
        ref: ([x]) => [
          ref.min(x, axes, keepdim),
          ref.variance(x, axes, correction, keepdim),
          ref.logsumexp(x, axes, keepdim),
          ...(count > 1 ? [ref.map(ref.variance(x, axes, correction, keepdim), Math.sqrt)] : []),
        ],
        // A standard deviation of two elements can be small: a steep square root.
        gradTol: 1e-3,
      }, d.next);
      // Products of values near ±1, some of them exactly 0 (one or two in a row).
      const values = ref.map(
        normal(shape, d.next),
        (v) => (d.chance(0.1) ? 0 : Math.sign(v) * (0.7 + 0.2 * Math.abs(v))),
      );
      await check(device, {
        name: `prod ${label}`,
        inputs: [values],
        run: ([x]) => prod(x, list ?? undefined, keepdim),
        ref: ([x]) => ref.prod(x, list, keepdim),
      }, d.next);
    });
  }

  for (const seed of fuzzSeeds("parity argmax", 10)) {
    await t.step(`argmax and argmin with ties and NaN, seed ${seed}`, async () => {
      const d = new Draw(seed);
      // Long rows (one invocation each up to 256, a workgroup past it) at ranks 1 and 2.
      const most = d.pick([5, 9, 300]);
      const rank = most === 300 ? d.int(1, 2) : d.int(0, 4);
      const shape = shapeOf(d, rank, most);
      const levels = d.int(1, 5);
      const x = ref.f64(shape, Array.from({ length: ref.numel(shape) }, () => d.int(1, levels)));
      const dtype = d.chance(0.3) ? "i32" : "f32";
      if (dtype === "f32" && d.chance(0.4)) {
        for (let k = d.int(1, 3); k > 0; k--) x.data[d.int(0, x.data.length - 1)] = NaN;
      }
      const axis = rank === 0 || d.chance(0.3)
        ? undefined
        : d.int(0, rank - 1) - (d.chance(0.5) ? rank : 0);
      const keepdim = d.chance(0.5);
      const data = dtype === "i32" ? Int32Array.from(x.data) : Float32Array.from(x.data);
      const t = fromTypedArray(data, shape);
      for (const op of ["argmax", "argmin"] as const) {
        const got = op === "argmax" ? argmax(t, axis, keepdim) : argmin(t, axis, keepdim);
        const want = ref.argExtremum(x, axis ?? null, op, keepdim);
        const label = `${op} ${dtype} [${shape}] axis ${axis} keepdim ${keepdim}`;
        assert.deepEqual([...got.shape], want.shape, label);
        assert.deepEqual([...await got.data()], [...want.data], label);
        got.dispose();
      }
      t.dispose();
    });
  }

  for (const seed of fuzzSeeds("parity select", 10)) {
    await t.step(`maximum, minimum, where, clamp and comparisons, seed ${seed}`, async () => {
      const d = new Draw(seed);
      const shape = shapeOf(d, d.int(1, 4), 7);
      const [other, condition] = [broadcastable(d, shape), broadcastable(d, shape)];
      const [lo, hi] = [d.pick([-0.5, -1, 0.25]), d.pick([0.5, 1, -0.75])];
      const mask = ref.f64(
        condition,
        Array.from({ length: ref.numel(condition) }, () => (d.chance(0.5) ? 1 : 0)),
      );
      await check(device, {
        name: `[${shape}] with [${other}], condition [${condition}], clamp [${lo}, ${hi}]`,
        inputs: [normal(shape, d.next), normal(other, d.next), mask],
        run: ([x, y, c]) => [
          maximum(x, y),
          minimum(y, x),
          where(c, x, y),
          x.clamp(lo, hi).abs(),
        ],
        ref: ([x, y, c]) => [
          ref.maximum(x, y),
          ref.minimum(y, x),
          ref.where(c, x, y),
          ref.abs(ref.clamp(x, lo, hi)),
        ],
        wrt: [0, 1],
      }, d.next);
      // Comparisons on small integers (ties), against a tensor and a number.
      const ints = (s: number[]) =>
        ref.f64(s, Array.from({ length: ref.numel(s) }, () => d.int(-2, 2)));
      const [a, b] = [ints(shape), ints(other)];
      const [ta, tb] = [a, b].map((v) => fromTypedArray(Float32Array.from(v.data), v.shape));
      for (const op of ["eq", "ne", "lt", "le", "gt", "ge"] as const) {
        const [got, scalar] = [ta[op](tb), ta[op](1)];
        assert.deepEqual([...await got.data()], [...ref.compare(a, b, op).data], op);
        assert.deepEqual([...await scalar.data()], [...ref.compare(a, ref.full([], 1), op).data]);
        got.dispose(), scalar.dispose();
      }
      ta.dispose(), tb.dispose();
    });
  }

  for (const seed of fuzzSeeds("parity views", 8)) {
    await t.step(`squeeze, unsqueeze, flatten, expand and stack chains, seed ${seed}`, async () => {
      const d = new Draw(seed);
      const shape = shapeOf(d, d.int(1, 3), 5).map((s) => (d.chance(0.3) ? 1 : s));
      const rank = shape.length;
      const at = d.int(-rank - 1, rank);
      const inserted = at < 0 ? at + rank + 1 : at;
      const unsqueezed = [...shape.slice(0, inserted), 1, ...shape.slice(inserted)];
      const squeezed = unsqueezed.filter((s) => s !== 1);
      const [start, end] = [d.int(0, squeezed.length - 1), d.int(0, squeezed.length - 1)].sort();
      const flat = squeezed.length === 0 ? [1] : [
        ...squeezed.slice(0, start),
        ref.numel(squeezed.slice(start, end + 1)),
        ...squeezed.slice(end + 1),
      ];
      const copies = d.int(1, 3), axis = d.int(0, flat.length);
      const grown = d.int(2, 4);
      await check(device, {
        name: `[${shape}] unsqueeze ${at}, squeeze, flatten ${start}..${end}, ` +
          `expand ×${grown}, stack ${copies} at ${axis}`,
        inputs: [normal(shape, d.next)],
        run: ([x]) => {
          const chain = x.unsqueeze(at).squeeze().flatten(start, end).unsqueeze(0);
          const wide = chain.expand([grown, ...flat]).mul(1);
          return stack(Array.from({ length: copies }, () => wide), axis);
        },
        ref: ([x]) => {
          const wide = ref.add(ref.reshape(x, [1, ...flat]), ref.zeros([grown, ...flat]));
          const part = [...wide.shape.slice(0, axis), 1, ...wide.shape.slice(axis)];
          return ref.concat(Array.from({ length: copies }, () => ref.reshape(wide, part)), axis);
        },
      }, d.next);
    });
  }
});
