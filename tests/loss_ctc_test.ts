/**
 * ctcLoss against a float64 transcription of the CTC forward recursion (Graves et al. 2006),
 * PyTorch's reductions and options, the gradient of the logits through logSoftmax by finite
 * differences, and PyTorch's gradient convention on the log-probabilities.
 */
import assert from "node:assert/strict";
import { ctcLoss, defaultDevice, type Reduction, tensor } from "../mod.ts";
import { CTCLoss } from "../nn/mod.ts";
import { mulberry32 } from "./_reference.ts";

await defaultDevice();

type Frames = number[][][]; // [T, N, C]

function logSoftmax(z: Frames): Frames {
  return z.map((frame) =>
    frame.map((row) => {
      const m = Math.max(...row);
      const l = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
      return row.map((v) => v - l);
    })
  );
}

function logSumExp(...xs: number[]): number {
  const m = Math.max(...xs);
  return m === -Infinity ? -Infinity : m + Math.log(xs.reduce((a, v) => a + Math.exp(v - m), 0));
}

/** −log p(y | x) of sample n: the alpha recursion over blank, y₁, blank, …, blank. */
function negativeLogLikelihood(
  lp: Frames,
  labels: number[],
  frames: number,
  n: number,
  blank: number,
) {
  const extended = [blank];
  for (const c of labels) extended.push(c, blank);
  let alpha = extended.map((c, s) => (s < 2 ? lp[0][n][c] : -Infinity));
  for (let t = 1; t < frames; t++) {
    alpha = extended.map((c, s) => {
      const skip = s > 1 && c !== blank && c !== extended[s - 2] ? alpha[s - 2] : -Infinity;
      return logSumExp(alpha[s], s > 0 ? alpha[s - 1] : -Infinity, skip) + lp[t][n][c];
    });
  }
  const L = extended.length;
  return -logSumExp(alpha[L - 1], L > 1 ? alpha[L - 2] : -Infinity);
}

function reference(
  logits: Frames,
  targets: number[][],
  inputLengths: number[],
  targetLengths: number[],
  reduction: Reduction,
  blank: number,
): number[] {
  const lp = logSoftmax(logits);
  const losses = targets.map((row, n) =>
    negativeLogLikelihood(lp, row.slice(0, targetLengths[n]), inputLengths[n], n, blank)
  );
  if (reduction === "none") return losses;
  if (reduction === "sum") return [losses.reduce((a, b) => a + b, 0)];
  return [losses.reduce((a, l, n) => a + l / Math.max(targetLengths[n], 1), 0) / losses.length];
}

Deno.test("ctcLoss matches the float64 recursion and its gradient, every reduction and a blank of 2", async () => {
  const random = mulberry32(31);
  const [T, N, C] = [7, 4, 5];
  const logits = Array.from(
    { length: T },
    () => Array.from({ length: N }, () => Array.from({ length: C }, () => 4 * random() - 2)),
  );
  for (const blank of [0, 2]) {
    const other = blank === 0 ? 3 : 0;
    // Repeated labels (which need a blank between them), an empty target, shorter inputs.
    const targets = [[1, 4, 4], [other, 1, 1], [1, 1, 1], [4, other, 1]];
    const targetLengths = [3, 2, 0, 1];
    const inputLengths = [7, 5, 2, 6];
    for (const reduction of ["none", "sum", "mean"] as const) {
      const what = `blank ${blank}, ${reduction}`;
      const z = tensor(logits, { requiresGrad: true });
      const out = ctcLoss(
        z.logSoftmax(2),
        tensor(targets, { dtype: "i32" }),
        inputLengths,
        targetLengths,
        {
          reduction,
          blank,
        },
      );
      const got = Array.from(await out.data());
      const want = reference(logits, targets, inputLengths, targetLengths, reduction, blank);
      got.forEach((g, i) =>
        assert.ok(Math.abs(g - want[i]) < 2e-6 * (1 + want[i]), `${what}: ${g} vs ${want[i]}`)
      );
      const weights = got.map((_, i) => 1 + i / 2);
      await (out.rank === 0 ? out : out.mul(tensor(weights)).sum()).backward();
      const grad = await z.grad!.data();
      const objective = (v: Frames) =>
        reference(v, targets, inputLengths, targetLengths, reduction, blank).reduce(
          (a, l, i) => a + l * weights[i],
          0,
        );
      for (let t = 0; t < T; t++) {
        for (let n = 0; n < N; n++) {
          for (let c = 0; c < C; c++) {
            const [up, down] = [structuredClone(logits), structuredClone(logits)];
            up[t][n][c] += 1e-6;
            down[t][n][c] -= 1e-6;
            const fd = (objective(up) - objective(down)) / 2e-6;
            const g = grad[(t * N + n) * C + c];
            assert.ok(Math.abs(g - fd) < 1e-4, `${what} ∂[${t}, ${n}, ${c}]: ${g} vs ${fd}`);
          }
        }
      }
    }
  }
});

Deno.test("ctcLoss: concatenated targets, unbatched input, impossible alignments, PyTorch's lp gradient", async () => {
  const lp = tensor([[[0.1, 0.6, 0.3]], [[0.2, 0.2, 0.6]], [[0.5, 0.4, 0.1]]]).log(); // [3, 1, 3]
  const padded = await ctcLoss(lp, tensor([[1, 2]], { dtype: "i32" }), [3], [2], {
    reduction: "none",
  }).data();
  const flat = await ctcLoss(lp, tensor([1, 2], { dtype: "i32" }), [3], [2], { reduction: "none" })
    .data();
  // Paths of "12" in 3 frames: 12-, 1-2, -12, 112, 122.
  const p = 0.6 * 0.6 * 0.5 + 0.6 * 0.2 * 0.1 + 0.1 * 0.2 * 0.1 + 0.6 * 0.2 * 0.1 + 0.6 * 0.6 * 0.1;
  assert.ok(Math.abs(padded[0] + Math.log(p)) < 1e-6 && flat[0] === padded[0], `${padded} ${flat}`);
  const unbatched = ctcLoss(lp.reshape([3, 3]), tensor([1, 2], { dtype: "i32" }), [3], [2]);
  assert.deepEqual(unbatched.shape, []);
  assert.ok(Math.abs(await unbatched.item() + Math.log(p) / 2) < 1e-6);
  // "11" needs 3 frames (1-1): 2 frames cannot align it.
  const repeated = tensor([[1, 1]], { dtype: "i32" });
  assert.equal(await ctcLoss(lp, repeated, [2], [2], { reduction: "sum" }).item(), Infinity);
  const x = lp.detach();
  x.requiresGrad = true;
  const zeroed = ctcLoss(x, repeated, [2], [2], { zeroInfinity: true });
  await zeroed.backward();
  assert.equal(await zeroed.item(), 0);
  assert.ok((await x.grad!.data()).every((g) => g === 0));
  // PyTorch's gradient on the log-probabilities: exp(lp) − γ, each frame's summing to 0.
  const y = lp.detach();
  y.requiresGrad = true;
  await ctcLoss(y, tensor([[1, 2]], { dtype: "i32" }), [3], [2], { reduction: "sum" }).backward();
  const g = await y.grad!.data();
  for (let t = 0; t < 3; t++) assert.ok(Math.abs(g[3 * t] + g[3 * t + 1] + g[3 * t + 2]) < 1e-6);
  // γ at frame 0: label 1 on paths 12-, 1-2, 112, 122; blank on -12.
  const gammaBlank = (0.1 * 0.2 * 0.1) / p;
  assert.ok(Math.abs(g[0] - (0.1 - gammaBlank)) < 1e-5, `${g[0]}`);
  assert.throws(() => ctcLoss(lp, repeated, [4], [2]), /inputLengths holds 4, not in \[0, 3\]/);
  assert.throws(
    () => ctcLoss(lp, repeated, [3], [2], { blank: 3 }),
    /blank 3 is not a class of \[0, 3\)/,
  );
  assert.throws(
    () => ctcLoss(lp, tensor([1, 2, 2], { dtype: "i32" }), [3], [2]),
    /hold 3 labels, targetLengths sum to 2/,
  );
  const loss = new CTCLoss({ reduction: "sum" });
  assert.ok(
    Math.abs(
      await loss.forward(lp, tensor([[1, 2]], { dtype: "i32" }), [3], [2]).item() + Math.log(p),
    ) < 1e-6,
  );
});
