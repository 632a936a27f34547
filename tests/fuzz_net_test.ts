/**
 * A seeded randomized sweep at the level a user works: small CNNs built from the public `nn`
 * modules (Conv2d with random kernels, non-square ones too, strides, padding, groups and bias;
 * ReLU and tanh, fused or as modules; LocalResponseNorm with random constants and groups;
 * BatchNorm2d by the batch's statistics, with or without affine;
 * MaxPool2d or AvgPool2d, overlapping or not, floor or ceil mode; AdaptiveAvgPool2d; Dropout;
 * Flatten; Linear) on inputs of random scale (some channels-last, fed as a permuted view),
 * under `crossEntropy` with random options (labels or probabilities), trained two steps by
 * `SGD` (the paper's rule or PyTorch's, random momentum and weight decay, the biases in a
 * group of their own at times, the learning rate changed between the steps at times). Against
 * the float64 reference of `_net_reference.ts` on the same weights: the loss, the input's
 * gradient and every parameter's gradient at both steps, the parameters after each step, and
 * the evaluation forward; every bound follows from the lengths of the sums and the magnitudes
 * in them (see `_net_reference.ts`).
 *
 * Then, bit for bit unless said otherwise:
 * - the same net split over two logical devices (one GPUDevice shared, or two exchanging
 *   through the host), its activations moved by `.to()`, computes what one device computes,
 *   both steps (the later layers built there or moved by `Module.to()`; the steps plain, or
 *   guarded as the trainer makes them, every update checked on the GPU first);
 * - with one layer split along its outputs into AlexNet's towers (`nn/_towers.ts`), one per
 *   device, it stays within the reference's bounds (the towers sum the input's gradient in
 *   another order), and its checkpoint, saved from the towers, loads on one device;
 * - `eval()` makes every dropout the identity and draws no random numbers, its gradients
 *   match the reference's and a second backward pass adds exactly as much again; `train()`
 *   brings the masks back, each the `dropoutMask` of its generator's state, both ways;
 * - a frozen parameter (`requiresGrad = false`) gets no gradient and no update;
 * - a safetensors checkpoint restores every parameter;
 * - each net gives back every byte it allocated (but constant tables for new geometries).
 *
 * `FUZZ_SEED=s FUZZ_ITERS=k` runs k times as many nets; `FUZZ_VERBOSE=1` prints how much of its
 * bound each comparison used.
 */

import assert from "node:assert/strict";
import {
  crossEntropy,
  defaultDevice,
  Device,
  dropoutMask,
  fromTypedArray,
  Generator,
  noGrad,
  StepGuard,
  type Tensor,
  tensor,
} from "../mod.ts";
import {
  type Conv2d,
  Dropout,
  type Layer,
  type Linear,
  loadCheckpoint,
  saveCheckpoint,
  Sequential,
} from "../nn/mod.ts";
import { SGD } from "../train/mod.ts";
import { Towers } from "../nn/_towers.ts";
import * as ref from "./_reference.ts";
import {
  type Bounded,
  forward,
  forwardBackward,
  type LayerSpec,
  type PassResult,
  type SgdSpec,
  sgdStep,
} from "./_net_reference.ts";
import { assertBounded, Draw, fuzzSeeds } from "./_fuzz.ts";
import {
  buildLayers,
  describe,
  drawNet,
  dropoutSeed,
  logicalName,
  namedParameters,
  type NetCase,
  trainable,
} from "./_net_cases.ts";

/** What the GPU computed in two training steps, to compare with the reference and across runs. */
interface Trace {
  losses: number[];
  dx: Float32Array[];
  grads: Map<string, Float32Array>[];
  params: Map<string, Float32Array>[];
  /** The velocities after each step. */
  velocities: Map<string, Float32Array>[];
}

const worst = { ratio: 0, label: "" };
let comparisons = 0;

/** Asserts `got` within the reference's bound; keeps the largest fraction of a bound used. */
function within(label: string, got: ArrayLike<number>, want: Bounded): void {
  const ratio = assertBounded(label, got, want.v.data, want.e.data);
  comparisons++;
  if (ratio > worst.ratio) [worst.ratio, worst.label] = [ratio, label];
}

/** Asserts two float32 arrays equal bit for bit. */
function identical(label: string, got: Float32Array, want: Float32Array): void {
  assert.equal(got.length, want.length, `${label}: length`);
  const [a, b] = [
    new Uint32Array(got.buffer, got.byteOffset, got.length),
    new Uint32Array(
      want.buffer,
      want.byteOffset,
      want.length,
    ),
  ];
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.fail(`${label}: [${i}] = ${got[i]}, want ${want[i]} bit for bit`);
  }
}

/** A device's live bytes, and how many constant tables (cached, so live) it holds. */
function heldBytes(device: Device): { live: number; tables: number } {
  return { live: device.memory().liveBytes, tables: device.cacheSizes().constantBuffers };
}

async function hostValues(named: [string, Tensor | null][]): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of named) {
    assert.ok(t, `${name}: no gradient after backward()`);
    out.set(name, await t.data() as Float32Array);
  }
  return out;
}

/**
 * The masks of the dropout layers for two training passes, each the `dropoutMask` of its
 * generator where the layer's pass starts (p = 0 draws nothing), with the generators' states
 * after each pass.
 */
async function dropoutMasks(
  c: NetCase,
  caseSeed: number,
): Promise<{ masks: (Float64Array | undefined)[][]; states: Map<number, number>[] }> {
  const masks: (Float64Array | undefined)[][] = [[], []];
  const states: Map<number, number>[] = [new Map(), new Map()];
  for (const [i, s] of c.layers.entries()) {
    if (s.kind !== "dropout") continue;
    const generator = new Generator(dropoutSeed(caseSeed, i));
    for (const pass of [0, 1]) {
      if (s.p > 0) {
        const mask = dropoutMask(c.shapes[i - 1] ?? c.input, s.p, generator);
        masks[pass][i] = Float64Array.from(await mask.data());
        mask.dispose();
      }
      states[pass].set(i, generator.state().offset);
    }
  }
  return { masks, states };
}

/** The kept fraction of each mask is Binomial(n, 1 − p) within six deviations; values 0 or 1/(1 − p). */
function checkMaskStatistics(c: NetCase, masks: (Float64Array | undefined)[][]): void {
  for (const pass of masks) {
    pass.forEach((mask, i) => {
      const s = c.layers[i];
      if (!mask || s.kind !== "dropout") return;
      const scale = Math.fround(1 / (1 - s.p));
      let kept = 0;
      for (const m of mask) {
        assert.ok(m === 0 || m === scale, `dropout ${i}: mask value ${m}, want 0 or ${scale}`);
        kept += +(m !== 0);
      }
      const n = mask.length, sigma = Math.sqrt(n * s.p * (1 - s.p));
      assert.ok(
        Math.abs(kept - n * (1 - s.p)) <= 6 * sigma + 1,
        `dropout ${i} (p ${s.p}): kept ${kept} of ${n}`,
      );
    });
  }
}

/**
 * Each dropout layer in training, on its own: its output and its input's gradient are x·m and
 * dy·m bit for bit, m the `dropoutMask` of its generator's state (0 where dropped, 1/(1 − p)
 * elsewhere).
 */
async function checkDropoutLayers(layers: readonly Layer[], c: NetCase, label: string) {
  for (const [i, layer] of layers.entries()) {
    if (!(layer instanceof Dropout) || !layer.generator) continue;
    const shape = c.shapes[i], n = shape.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: n }, (_, k) => 1 + ((k * 7919) % 13) / 8);
    const dy = Float32Array.from({ length: n }, (_, k) => ((k * 104729) % 11) / 4 - 1.25);
    const state = layer.generator.state();
    const input = fromTypedArray(x, shape, { requiresGrad: true });
    const y = layer.forward(input);
    const upstream = fromTypedArray(dy, shape);
    const weighted = y.mul(upstream), loss = weighted.sum();
    await loss.backward();
    const replay = new Generator(0);
    replay.setState(state);
    const mask = layer.p === 0 ? null : dropoutMask(shape, layer.p, replay);
    const m = mask ? await mask.data() as Float32Array : new Float32Array(n).fill(1);
    mask?.dispose();
    const product = (a: Float32Array) => Float32Array.from(a, (v, k) => v * m[k]);
    identical(`${label}: dropout ${i} output`, await y.data() as Float32Array, product(x));
    identical(
      `${label}: dropout ${i} input gradient`,
      await input.grad!.data() as Float32Array,
      product(dy),
    );
    input.zeroGrad();
    for (const t of [input, y, upstream, weighted, loss]) t.dispose();
  }
}

/** Exact values (the GPU's, read back) as bounded ones. */
function exactly(
  values: Map<string, Float32Array>,
  like: Map<string, Bounded>,
): Map<string, Bounded> {
  return new Map([...like].map(([name, b]) => [name, {
    v: ref.f64(b.v.shape, values.get(name)!),
    e: ref.zeros(b.v.shape),
  }]));
}

/**
 * One step of the reference from `params` and `velocity` (exact: the initial ones, or the
 * GPU's after its previous step): the pass, and the parameters after the SGD step.
 */
function referenceStep(
  c: NetCase,
  step: number,
  params: Map<string, Bounded>,
  velocity: Map<string, Bounded> | null,
  x: ref.F64,
  labels: Int32Array,
  masks: (Float64Array | undefined)[],
) {
  const pass = forwardBackward(c.layers, params, x, labels, c.loss, masks);
  const next = new Map<string, Bounded>();
  for (const [name, w] of params) {
    const v = velocity?.get(name) ?? { v: ref.zeros(w.v.shape), e: ref.zeros(w.v.shape) };
    const frozen = c.frozen.includes(name);
    next.set(
      name,
      frozen ? w : sgdStep(w, v, pass.grads.get(name)!, hyperparameters(c, name, step)).w,
    );
  }
  return { pass, params: next };
}

/** The optimiser's constants for parameter `name` at `step` (0 or 1). */
function hyperparameters(c: NetCase, name: string, step: number): SgdSpec {
  const group = name.endsWith(".bias") && c.biasSgd ? c.biasSgd : c.sgd;
  return step > 0 && c.lrAfterFirst !== undefined ? { ...group, lr: c.lrAfterFirst } : group;
}

/** The optimiser of `named` parameters with `c`'s groups. */
function optimiser(c: NetCase, named: [string, Tensor][]): SGD {
  const groups = c.biasSgd
    ? [
      [named.filter(([name]) => !name.endsWith(".bias")), c.sgd] as const,
      [named.filter(([name]) => name.endsWith(".bias")), c.biasSgd] as const,
    ]
    : [[named, c.sgd] as const];
  return new SGD(
    groups.filter(([params]) => params.length > 0).map(([params, h]) => ({
      params: params.map(([, p]) => p),
      names: params.map(([name]) => name),
      ...h,
    })),
  );
}

/** The label tensor, and the class weights if any, on `device`. */
function lossInputs(c: NetCase, labels: Int32Array, device: Device) {
  const [n] = c.input;
  const labelTensor = c.loss.probabilities
    ? fromTypedArray(Float32Array.from(c.loss.probabilities), [n, c.classes], { device })
    : tensor(labels, { dtype: "i32", device });
  const weight = c.loss.weight
    ? fromTypedArray(Float32Array.from(c.loss.weight), [c.classes], { device })
    : undefined;
  return { labels: labelTensor, weight };
}

/** The case's loss of `logits`: the losses, and their sum where the reduction is "none". */
function lossOf(c: NetCase, logits: Tensor, targets: ReturnType<typeof lossInputs>) {
  const { weight: _weight, probabilities: _probabilities, ...options } = c.loss;
  const losses = crossEntropy(logits, targets.labels, { ...options, weight: targets.weight });
  return { losses, loss: c.loss.reduction === "none" ? losses.sum() : losses };
}

/**
 * In evaluation (dropout off), the parameters' gradients against the reference's, and a second
 * backward pass adds the same again: exactly twice the first.
 */
async function checkEvaluationGradients(
  c: NetCase,
  net: Sequential,
  layers: readonly Layer[],
  reference: PassResult,
  x: ref.F64,
  labels: Int32Array,
  device: Device,
  label: string,
): Promise<void> {
  const named = namedParameters(layers);
  const targets = lossInputs(c, labels, device);
  let once = new Map<string, Float32Array>();
  for (const pass of [0, 1]) {
    const input = fromTypedArray(Float32Array.from(x.data), x.shape, { device });
    const logits = net.forward(input);
    const { losses, loss } = lossOf(c, logits, targets);
    await loss.backward();
    const grads = await hostValues(trainable(c, named).map(([name, p]) => [name, p.grad]));
    for (const [name, g] of grads) {
      if (pass === 0) {
        within(`${label}\nevaluation: ${name} gradient`, g, reference.grads.get(name)!);
      } else {
        const twice = Float32Array.from(once.get(name)!, (v) => 2 * v);
        identical(`${label}: ${name} gradient accumulated over two backward passes`, g, twice);
      }
    }
    once = grads;
    for (const t of new Set([input, logits, losses, loss])) t.dispose();
  }
  net.zeroGrad();
  targets.labels.dispose();
  targets.weight?.dispose();
}

/**
 * Two SGD steps of a network given as its forward (input on `inputDevice`, logits on
 * `lossDevice`) and its named parameters.
 */
async function train(
  c: NetCase,
  run: (x: Tensor) => Promise<Tensor>,
  named: [string, Tensor][],
  x: ref.F64,
  labels: Int32Array,
  inputDevice: Device,
  lossDevice: Device,
  guarded = false,
): Promise<Trace> {
  const sgd = optimiser(c, named);
  // As the trainer steps: every update checked on the GPU first, then made unless one is not
  // finite (none is here, so the guarded steps must be the plain ones, bit for bit).
  const guard = guarded ? new StepGuard(lossDevice, named.map(([, p]) => p.device)) : undefined;
  const [n, channels, h, w] = c.input;
  const targets = lossInputs(c, labels, lossDevice);
  const trace: Trace = { losses: [], dx: [], grads: [], params: [], velocities: [] };
  for (let step = 0; step < 2; step++) {
    // Channels last: the leaf holds [N, H, W, C], the network sees its permuted view.
    const leaf = c.channelsLast
      ? fromTypedArray(Float32Array.from(ref.permute(x, [0, 2, 3, 1]).data), [n, h, w, channels], {
        device: inputDevice,
        requiresGrad: true,
      })
      : fromTypedArray(Float32Array.from(x.data), x.shape, {
        device: inputDevice,
        requiresGrad: true,
      });
    const input = c.channelsLast ? leaf.permute([0, 3, 1, 2]) : leaf;
    const logits = await run(input);
    const { losses, loss } = lossOf(c, logits, targets);
    guard?.begin(loss, n);
    await loss.backward();
    trace.losses.push(await loss.item());
    const dx = await leaf.grad!.data() as Float32Array;
    trace.dx.push(
      c.channelsLast
        ? Float32Array.from(ref.permute(ref.f64([n, h, w, channels], dx), [0, 3, 1, 2]).data)
        : dx,
    );
    trace.grads.push(await hostValues(trainable(c, named).map(([name, p]) => [name, p.grad])));
    for (const [name, p] of named) {
      if (c.frozen.includes(logicalName(name))) assert.equal(p.grad, null, `${name} is frozen`);
    }
    if (guard) {
      sgd.check(guard);
      await guard.settle();
    }
    sgd.step({ guard });
    sgd.zeroGrad();
    if (step === 0 && c.lrAfterFirst !== undefined) sgd.setLearningRate(c.lrAfterFirst);
    trace.params.push(await hostValues(named));
    // A frozen parameter has no velocity: zeros, as the reference's.
    const velocities = new Map<string, Float32Array>();
    for (const [name, p] of named) {
      const v = sgd.velocity(p);
      velocities.set(name, v ? await v.data() as Float32Array : new Float32Array(p.size));
    }
    trace.velocities.push(velocities);
    leaf.zeroGrad();
    for (const t of new Set([leaf, input, logits, losses, loss])) t.dispose();
  }
  if (guard) {
    const stats = await guard.drain();
    assert.equal(stats.skipped, 0, "the guard skipped a finite step");
    guard.dispose();
  }
  sgd.dispose();
  targets.labels.dispose();
  targets.weight?.dispose();
  return trace;
}

/** The forward `last(middle(first(x)))`, freeing what it made (the graph keeps what it needs). */
function through(
  first: Sequential,
  middle: (h: Tensor) => Promise<Tensor>,
  last: Sequential,
): (x: Tensor) => Promise<Tensor> {
  return async (x) => {
    const h = first.forward(x);
    const m = await middle(h);
    h.dispose();
    const y = last.forward(m);
    m.dispose();
    return y;
  };
}

/**
 * Two SGD steps of the net with layer `towered` split along its outputs into two towers (one per
 * device, `nn/_towers.ts`), the rest on the first device; the trace names the towers' parameters
 * and gradients as the whole layer's (the parts joined along axis 0).
 */
async function trainTowers(
  c: NetCase,
  seed: number,
  towered: number,
  d: Draw,
  initial: Map<string, Float32Array>,
  x: ref.F64,
  labels: Int32Array,
  [first, second]: Device[],
  label: string,
): Promise<Trace> {
  const spec = c.layers[towered] as Extract<LayerSpec, { kind: "conv" | "linear" }>;
  const outputs = spec.kind === "conv" ? spec.outChannels : spec.outFeatures;
  const split = d.int(1, outputs - 1);
  const part = (count: number, device: Device) => {
    const layer = spec.kind === "conv"
      ? { ...spec, outChannels: count }
      : { ...spec, outFeatures: count };
    const one = { ...c, layers: c.layers.map((s, i) => (i === towered ? layer : s)) };
    const built = buildLayers(one, seed, seed + 3, () => device);
    built.forEach((l, i) => i !== towered && l.dispose());
    return built[towered] as Conv2d | Linear;
  };
  const towers = new Towers([part(split, first), part(outputs - split, second)]);
  const layers = buildLayers(c, seed, seed + 3, () => first);
  layers[towered].dispose();
  for (const [i, layer] of layers.entries()) {
    const shapes = (i === towered ? towers.parts[0] : layer).namedParameters();
    if (shapes.length === 0) continue;
    // The whole layer's values: the towers stack their parts' along axis 0.
    const dict = Object.fromEntries(shapes.map(([name, p]) => {
      const data = initial.get(`${i}.${name}`)!, rest = p.shape.slice(1);
      return [name, { shape: [data.length / ref.numel(rest), ...rest], data }];
    }));
    await (i === towered ? towers : layer).loadStateDict(dict);
  }
  const [before, after] = [
    new Sequential(...layers.slice(0, towered)),
    new Sequential(...layers.slice(towered + 1)),
  ];
  const named = namedParameters(layers.map((l, i) => (i === towered ? towers : l)));
  const trace = await train(
    c,
    through(before, (h) => towers.forward(h), after),
    named,
    x,
    labels,
    first,
    first,
  );
  // Saved from the towers, a checkpoint holds the whole layer (PyTorch's names and layout): it
  // loads into the net on one device.
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  let restored: Map<string, Float32Array>;
  try {
    const parts = layers.map((l, i) => (i === towered ? towers as unknown as Layer : l));
    await saveCheckpoint(path, new Sequential(...parts));
    const whole = buildLayers(c, seed, seed + 4, () => first);
    await loadCheckpoint(path, new Sequential(...whole));
    restored = await hostValues(namedParameters(whole));
    for (const layer of whole) layer.dispose();
  } finally {
    await Deno.remove(path);
  }
  for (const layer of [...layers, towers]) layer.dispose();
  // `${towered}.0.weight` and `${towered}.1.weight` → `${towered}.weight`, and so on.
  const joined = (values: Map<string, Float32Array>) => {
    const out = new Map<string, Float32Array>();
    for (const [name, v] of values) {
      const m = name.match(new RegExp(`^${towered}\\.([01])\\.(.+)$`));
      if (!m) {
        out.set(name, v);
        continue;
      }
      const key = `${towered}.${m[2]}`, prev = out.get(key);
      out.set(key, m[1] === "0" ? v : Float32Array.from([...prev!, ...v]));
    }
    return out;
  };
  const params = trace.params.map(joined);
  for (const [name, w] of params[1]) {
    identical(
      `${label}: ${name} saved from the towers, loaded on one device`,
      restored.get(name)!,
      w,
    );
  }
  return {
    ...trace,
    grads: trace.grads.map(joined),
    params,
    velocities: trace.velocities.map(joined),
  };
}

function compareWithReference(
  label: string,
  trace: Trace,
  steps: ReturnType<typeof referenceStep>[],
): void {
  for (const [step, r] of steps.entries()) {
    const at = `${label}\nstep ${step + 1}`;
    within(`${at}: loss`, [trace.losses[step]], r.pass.loss);
    within(`${at}: input gradient`, trace.dx[step], r.pass.dx);
    for (const [name, g] of r.pass.grads) {
      if (!trace.grads[step].has(name)) continue; // frozen: checked to have none
      within(`${at}: ${name} gradient`, trace.grads[step].get(name)!, g);
    }
    for (const [name, w] of r.params) {
      within(`${at}: ${name} after the step`, trace.params[step].get(name)!, w);
    }
  }
}

function compareTraces(label: string, got: Trace, want: Trace): void {
  for (const step of [0, 1]) {
    const at = `${label}, step ${step + 1}`;
    identical(`${at}: loss`, Float32Array.of(got.losses[step]), Float32Array.of(want.losses[step]));
    identical(`${at}: input gradient`, got.dx[step], want.dx[step]);
    for (const [name, g] of want.grads[step]) {
      identical(`${at}: ${name} gradient`, got.grads[step].get(name)!, g);
    }
    for (const [name, w] of want.params[step]) {
      identical(`${at}: ${name}`, got.params[step].get(name)!, w);
    }
  }
}

Deno.test("fuzz: random CNNs from the nn modules, trained two SGD steps, against float64", async (t) => {
  const device = await defaultDevice();
  const shared = await Device.acquireMany(2, { label: "netfuzz" });
  const separate = await Device.acquireMany(2, { separateDevices: true });
  const devices = [device, ...shared, ...separate];
  let nets = 0;
  for (const seed of fuzzSeeds("nets", 12)) {
    await t.step(`net, seed ${seed}`, async () => {
      const held = devices.map(heldBytes);
      const d = new Draw(seed);
      const c = drawNet(d);
      let label = `seed ${seed}: ${describe(c)}`;
      const { masks, states } = await dropoutMasks(c, seed);
      checkMaskStatistics(c, masks);

      // Inputs on which no ReLU or pooling decision is within rounding of flipping: drawn until
      // the first step's is not (on the host), then until the second step's (from the GPU's
      // parameters after the first) and the evaluation's are not; after 10 draws, the last with
      // the reference's bounds widened where a decision may flip.
      let layers: Layer[] = [], net: Sequential | undefined, oneDevice: Trace | undefined;
      let x: ref.F64 | undefined, labels = new Int32Array(), params0 = new Map<string, Bounded>();
      let initial = new Map<string, Float32Array>();
      let steps: ReturnType<typeof referenceStep>[] = [];
      let evaluation: ReturnType<typeof forward> | undefined, ambiguous: string | null = null;
      for (let tries = 0; !oneDevice; tries++) {
        const retry = tries < 10;
        if (net === undefined) {
          layers = buildLayers(c, seed, seed, () => device);
          net = new Sequential(...layers);
          initial = await hostValues(namedParameters(layers));
          params0 = new Map(
            namedParameters(layers).map(([name, p]) => [name, {
              v: ref.f64(p.shape, initial.get(name)!),
              e: ref.zeros(p.shape),
            }]),
          );
        }
        x = ref.f64(c.input, Float32Array.from(ref.randn(c.input, d.next, c.inputScale).data));
        const [n] = c.input, ignore = c.loss.ignoreIndex;
        labels = Int32Array.from(
          { length: n },
          (_, i) =>
            ignore !== undefined && i > 0 && d.chance(0.25) ? ignore : d.int(0, c.classes - 1),
        );
        if (labels[0] === ignore) labels[0] = (ignore + 1) % c.classes;
        const first = referenceStep(c, 0, params0, null, x, labels, masks[0]);
        ambiguous = first.pass.ambiguous;
        if (ambiguous && retry) continue;
        const trace = await train(
          c,
          (input) => Promise.resolve(net!.forward(input)),
          namedParameters(layers),
          x,
          labels,
          device,
          device,
        );
        const [params1, params2] = trace.params.map((p) => exactly(p, params0));
        const second = referenceStep(
          c,
          1,
          params1,
          exactly(trace.velocities[0], params0),
          x,
          labels,
          masks[1],
        );
        evaluation = forward(c.layers, params2, x, null);
        ambiguous ??= second.pass.ambiguous ?? evaluation.ambiguous;
        if (ambiguous && retry) {
          net.dispose();
          net = undefined;
          continue;
        }
        [oneDevice, steps] = [trace, [first, second]];
      }
      assert.ok(net && x && evaluation);
      // The reference's loss is PyTorch's.
      const logits0 = steps[0].pass.logits.v;
      const torchLoss = ref.torchCrossEntropyNd(
        logits0,
        c.loss.probabilities ? ref.f64(logits0.shape, c.loss.probabilities) : labels,
        {
          ...c.loss,
          reduction: c.loss.reduction === "none" ? "sum" : c.loss.reduction,
          weight: c.loss.weight ? ref.f64([c.classes], c.loss.weight) : undefined,
        },
      );
      assert.ok(
        Math.abs(torchLoss.data[0] - steps[0].pass.loss.v.data[0]) <=
          1e-12 * (1 + Math.abs(torchLoss.data[0])),
        `${label}: the reference's loss ${steps[0].pass.loss.v.data[0]}, PyTorch's ${
          torchLoss.data[0]
        }`,
      );
      if (ambiguous) label += `\n(bounds widened: ${ambiguous})`;
      compareWithReference(`${label}\none device`, oneDevice, steps);
      for (const [i, layer] of layers.entries()) {
        if (!(layer instanceof Dropout) || !layer.generator) continue;
        assert.equal(
          layer.generator.state().offset,
          states[1].get(i),
          `${label}: dropout ${i}'s stream`,
        );
      }

      // Evaluation: every dropout the identity, bit for bit, and no random numbers drawn.
      net.eval();
      assert.ok(
        net.namedModules().every(([, m]) => !m.training),
        `${label}: eval() reaches every layer`,
      );
      const input = fromTypedArray(Float32Array.from(x.data), x.shape, { device });
      const drawn = layers.map((l) =>
        l instanceof Dropout ? l.generator?.state().offset : undefined
      );
      const logits = noGrad(() => net.forward(input));
      const evaluated = await logits.data() as Float32Array;
      within(`${label}\nevaluation: logits`, evaluated, evaluation.logits);
      const again = noGrad(() => net.forward(input));
      identical(`${label}: evaluation again`, await again.data() as Float32Array, evaluated);
      const withoutDropout = new Sequential(...layers.filter((l) => !(l instanceof Dropout)));
      const plain = noGrad(() => withoutDropout.forward(input));
      identical(
        `${label}: evaluation without the dropout layers`,
        await plain.data() as Float32Array,
        evaluated,
      );
      layers.forEach((l, i) => {
        if (l instanceof Dropout) {
          assert.equal(
            l.generator?.state().offset,
            drawn[i],
            `${label}: dropout ${i} drew in eval()`,
          );
        }
      });
      await checkEvaluationGradients(
        c,
        net,
        layers,
        forwardBackward(c.layers, exactly(oneDevice.params[1], params0), x, labels, c.loss, null),
        x,
        labels,
        device,
        label,
      );
      net.train();
      await checkDropoutLayers(layers, c, label);
      assert.ok(
        net.namedModules().every(([, m]) => m.training),
        `${label}: train() reaches every layer`,
      );
      for (const tensor of [input, logits, again, plain]) tensor.dispose();

      // A checkpoint restores every parameter bit for bit, into a net initialised otherwise.
      const path = await Deno.makeTempFile({ suffix: ".safetensors" });
      try {
        await saveCheckpoint(path, net);
        const restoredLayers = buildLayers(c, seed, seed + 1, () => device);
        await loadCheckpoint(path, new Sequential(...restoredLayers));
        const restored = await hostValues(namedParameters(restoredLayers));
        for (const [name, w] of oneDevice.params[1]) {
          identical(`${label}: restored ${name}`, restored.get(name)!, w);
        }
        for (const layer of restoredLayers) layer.dispose();
      } finally {
        await Deno.remove(path);
      }

      // Two devices: the first layers on one, the rest on the other, activations moved by .to().
      const [first, second] = seed % 2 === 0 ? shared : separate;
      const cut = d.int(1, c.layers.length - 1);
      // Built where they run, or all on the first device and the later ones moved by Module.to().
      const moved = d.chance(0.5);
      const split = buildLayers(c, seed, seed + 2, (i) => (i < cut || moved ? first : second));
      for (const [i, layer] of split.entries()) {
        const entries = layer.namedParameters().map(([name, p]) => [name, {
          shape: p.shape,
          data: initial.get(`${i}.${name}`)!,
        }]);
        if (entries.length > 0) await layer.loadStateDict(Object.fromEntries(entries));
        if (moved && i >= cut) await layer.to(second);
      }
      const [towerA, towerB] = [
        new Sequential(...split.slice(0, cut)),
        new Sequential(...split.slice(cut)),
      ];
      const guarded = d.chance(0.5);
      const twoDevices = await train(
        c,
        through(towerA, (h) => h.to(second), towerB),
        namedParameters(split),
        x,
        labels,
        first,
        second,
        guarded,
      );
      compareTraces(
        `${label}\ntwo devices (${first.label}, ${second.label}) cut before layer ${cut}${
          moved ? ", moved" : ""
        }${guarded ? ", guarded steps" : ""}`,
        twoDevices,
        oneDevice,
      );
      for (const layer of split) layer.dispose();

      // AlexNet's towers: one layer's output channels split between the devices.
      const towerable = [...c.layers.keys()].filter((i) => {
        const s = c.layers[i];
        return s.kind === "linear" && s.outFeatures > 1 ||
          s.kind === "conv" && s.groups === 1 && s.outChannels > 1;
      });
      const towered = towerable.length > 0 ? d.pick(towerable) : -1;
      if (towered >= 0 && d.chance(0.4)) {
        const run = await trainTowers(
          c,
          seed,
          towered,
          d,
          initial,
          x,
          labels,
          [first, second],
          label,
        );
        const second1 = referenceStep(
          c,
          1,
          exactly(run.params[0], params0),
          exactly(run.velocities[0], params0),
          x,
          labels,
          masks[1],
        );
        compareWithReference(`${label}\ntowers at layer ${towered}`, run, [steps[0], second1]);
      }
      for (const layer of layers) layer.dispose();
      nets++;
      // Everything the net allocated is given back, but for constant tables built for new
      // geometries (offset tables of the convolutions, kept for the next call).
      devices.forEach((x, i) => {
        const now = heldBytes(x);
        if (now.tables === held[i].tables) {
          assert.equal(
            now.live,
            held[i].live,
            `${label}: ${x.label} holds ${now.live - held[i].live} bytes more`,
          );
        }
      });
    });
  }
  if (Deno.env.get("FUZZ_VERBOSE") === "1") {
    console.log(
      `${nets} nets, ${comparisons} comparisons; worst ${
        worst.ratio.toPrecision(3)
      } of the bound: ${worst.label}`,
    );
  }
  for (const d of [...shared, ...separate]) await d.sync();
  for (const d of [...shared, ...separate]) d.destroy();
});
