/**
 * Parameter initialisation, as `torch.nn.init`: each function fills a tensor in place (the
 * same tensor object, so an optimiser built on it keeps working) under `noGrad`, draws from
 * the library's seeded {@link Generator} (the global one unless a generator is given), and
 * returns the tensor. Fans are PyTorch's `_calculate_fan_in_and_fan_out`: for a weight of
 * shape `[out, in, k1, k2, …]`, `fanIn = in·k1·k2…` and `fanOut = out·k1·k2…` (a grouped
 * convolution's weight is `[out, in/groups, …]`, so its fans are per group, as PyTorch's).
 *
 * @example Re-initialise a network's weights, He-style, and zero its biases
 * ```ts
 * import { defaultDevice, Generator } from "../mod.ts";
 * import { init, Linear, ReLU, Sequential } from "./mod.ts";
 * await defaultDevice();
 * const net = new Sequential(new Linear({ inFeatures: 8, outFeatures: 16 }), new ReLU());
 * const generator = new Generator(0);
 * for (const [name, p] of net.namedParameters()) {
 *   if (name.endsWith("weight")) init.kaimingNormal(p, { nonlinearity: "relu", generator });
 *   else init.zeros(p);
 * }
 * ```
 *
 * @module
 */

import { checkOptions, optionNames } from "../tensor/options.ts";
import { noGrad } from "../tensor/_autograd.ts";
import { full } from "../tensor/creation.ts";
import { tidy } from "../tensor/memory.ts";
import { erfinv } from "../tensor/ops_activation.ts";
import { type Generator, globalGenerator } from "../tensor/random.ts";
import { numel, type Shape } from "../tensor/shape.ts";
import type { Tensor } from "../tensor/tensor.ts";

/** The nonlinearities {@link calculateGain} knows, by PyTorch's names (`leakyRelu` too). */
export type Nonlinearity =
  | "linear"
  | "conv1d"
  | "conv2d"
  | "conv3d"
  | "conv_transpose1d"
  | "conv_transpose2d"
  | "conv_transpose3d"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leaky_relu"
  | "leakyRelu"
  | "selu";

const UNIT_GAIN: readonly string[] = [
  "linear",
  "conv1d",
  "conv2d",
  "conv3d",
  "conv_transpose1d",
  "conv_transpose2d",
  "conv_transpose3d",
  "sigmoid",
];

/**
 * The recommended gain for a nonlinearity (`nn.init.calculate_gain`): 1 for linear layers,
 * convolutions and the sigmoid, 5/3 for tanh, √2 for ReLU, `√(2/(1 + slope²))` for a leaky
 * ReLU of negative slope `param` (default 0.01), 3/4 for SELU.
 *
 * @example
 * ```ts
 * import { calculateGain } from "./init.ts";
 * console.log(calculateGain("relu"), calculateGain("leaky_relu", 0.2)); // 1.4142… 1.3867…
 * ```
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  if (UNIT_GAIN.includes(nonlinearity)) return 1;
  switch (nonlinearity) {
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu":
    case "leakyRelu": {
      const slope = param ?? 0.01;
      if (typeof slope !== "number" || !Number.isFinite(slope)) {
        throw new RangeError(`calculateGain: negative slope ${slope} is not a finite number`);
      }
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu":
      return 3 / 4;
  }
  throw new RangeError(
    `calculateGain: unknown nonlinearity ${JSON.stringify(nonlinearity)} (known: ` +
      `${[...UNIT_GAIN, "tanh", "relu", "leaky_relu", "selu"].join(", ")})`,
  );
}

/** The fans of a weight (`nn.init._calculate_fan_in_and_fan_out`). */
export interface Fans {
  /** Inputs that feed one output: `shape[1] · Π shape[2:]`. */
  fanIn: number;
  /** Outputs that one input feeds: `shape[0] · Π shape[2:]`. */
  fanOut: number;
}

/**
 * The fans of a weight of `shape` (at least 2-D): `[out, in]` for a linear layer, `[out, in,
 * kh, kw]` for a convolution (the kernel's area multiplies both).
 *
 * @example
 * ```ts
 * import { calculateFans } from "./init.ts";
 * console.log(calculateFans([64, 3, 11, 11])); // { fanIn: 363, fanOut: 7744 }
 * ```
 */
export function calculateFans(shape: readonly number[]): Fans {
  if (shape.length < 2) {
    throw new RangeError(
      `init: fan in and fan out cannot be computed for a tensor of shape [${shape}] (fewer than 2 ` +
        "dimensions)",
    );
  }
  const receptive = numel(shape.slice(2));
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/** Writes what `make` returns into `tensor` in place, recording nothing; returns `tensor`. */
function fill<T extends Tensor>(tensor: T, make: () => Tensor): T {
  requireF32(tensor);
  noGrad(() => tidy(() => void tensor.assign(make() as Tensor<Shape, T["dtype"]>)));
  return tensor;
}

/** Throws unless `tensor` is f32 (the initialisers draw floats). */
function requireF32(tensor: Tensor): void {
  if (tensor.dtype !== "f32") {
    throw new TypeError(`init: expected an f32 tensor, got ${tensor.dtype} [${tensor.shape}]`);
  }
}

/** Throws unless every value is a finite number (named in the message). */
function requireFinite(op: string, values: Record<string, number>): void {
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new RangeError(`${op}: ${name} must be a finite number, got ${value}`);
    }
  }
}

/**
 * Fills `tensor` with draws uniform in `[a, b)` (`nn.init.uniform_`).
 *
 * @example
 * ```ts
 * import { defaultDevice, Generator, zeros } from "../mod.ts";
 * import { uniform } from "./init.ts";
 * await defaultDevice();
 * const w = uniform(zeros([2, 3]), -0.1, 0.1, new Generator(1));
 * console.log((await w.data()).every((v) => v >= -0.1 && v < 0.1)); // true
 * ```
 */
export function uniform<T extends Tensor>(tensor: T, a = 0, b = 1, generator?: Generator): T {
  requireFinite("uniform", { a, b });
  if (a > b) throw new RangeError(`uniform: a (${a}) must not exceed b (${b})`);
  return fill(tensor, () => draw(generator).uniform(tensor.shape, a, b, tensor.device));
}

/**
 * Fills `tensor` with normal draws of mean `mean` and standard deviation `std`
 * (`nn.init.normal_`).
 *
 * @example
 * ```ts
 * import { defaultDevice, zeros } from "../mod.ts";
 * import { normal } from "./init.ts";
 * await defaultDevice();
 * const w = normal(zeros([1000]), 0, 0.02);
 * console.log(Math.abs(await w.mean().item()) < 0.01); // true
 * ```
 */
export function normal<T extends Tensor>(tensor: T, mean = 0, std = 1, generator?: Generator): T {
  requireFinite("normal", { mean, std });
  if (std < 0) throw new RangeError(`normal: std must be ≥ 0, got ${std}`);
  return fill(tensor, () => draw(generator).normal(tensor.shape, mean, std, tensor.device));
}

/**
 * Fills `tensor` with `value` (`nn.init.constant_`).
 *
 * @example
 * ```ts
 * import { defaultDevice, zeros } from "../mod.ts";
 * import { constant } from "./init.ts";
 * await defaultDevice();
 * console.log(await constant(zeros([2]), 0.5).toArray()); // [0.5, 0.5]
 * ```
 */
export function constant<T extends Tensor>(tensor: T, value: number): T {
  if (typeof value !== "number") throw new TypeError(`constant: value must be a number`);
  return fill(tensor, () => full(tensor.shape, value, { device: tensor.device }));
}

/**
 * Fills `tensor` with zeros (`nn.init.zeros_`).
 *
 * @example
 * ```ts
 * import { defaultDevice, ones } from "../mod.ts";
 * import { zeros } from "./init.ts";
 * await defaultDevice();
 * console.log(await zeros(ones([2])).toArray()); // [0, 0]
 * ```
 */
export function zeros<T extends Tensor>(tensor: T): T {
  return constant(tensor, 0);
}

/**
 * Fills `tensor` with ones (`nn.init.ones_`).
 *
 * @example
 * ```ts
 * import { defaultDevice, zeros } from "../mod.ts";
 * import { ones } from "./init.ts";
 * await defaultDevice();
 * console.log(await ones(zeros([2])).toArray()); // [1, 1]
 * ```
 */
export function ones<T extends Tensor>(tensor: T): T {
  return constant(tensor, 1);
}

/**
 * Glorot's uniform initialisation (`nn.init.xavier_uniform_`): uniform in ±`gain·√(6/(fanIn +
 * fanOut))`, so a layer keeps the variance of its signal both ways.
 *
 * @example
 * ```ts
 * import { defaultDevice, zeros } from "../mod.ts";
 * import { xavierUniform } from "./init.ts";
 * await defaultDevice();
 * const w = xavierUniform(zeros([30, 20]));
 * console.log((await w.abs().max().item()) <= Math.sqrt(6 / 50)); // true
 * ```
 */
export function xavierUniform<T extends Tensor>(tensor: T, gain = 1, generator?: Generator): T {
  requireFinite("xavierUniform", { gain });
  const { fanIn, fanOut } = calculateFans(tensor.shape);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(tensor, -bound, bound, generator);
}

/**
 * Glorot's normal initialisation (`nn.init.xavier_normal_`): normal with standard deviation
 * `gain·√(2/(fanIn + fanOut))`.
 *
 * @example
 * ```ts
 * import { defaultDevice, zeros } from "../mod.ts";
 * import { xavierNormal } from "./init.ts";
 * await defaultDevice();
 * const w = xavierNormal(zeros([300, 200]));
 * console.log(Math.abs((await w.std().item()) - Math.sqrt(2 / 500)) < 0.002); // true
 * ```
 */
export function xavierNormal<T extends Tensor>(tensor: T, gain = 1, generator?: Generator): T {
  requireFinite("xavierNormal", { gain });
  const { fanIn, fanOut } = calculateFans(tensor.shape);
  return normal(tensor, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), generator);
}

/** The options of {@link kaimingUniform} and {@link kaimingNormal}. */
export interface KaimingOptions {
  /** The negative slope of the leaky ReLU that follows (default 0; used with `leaky_relu`). */
  a?: number;
  /**
   * `"fanIn"` (default) keeps the variance of the forward signal, `"fanOut"` that of the
   * backward gradients (PyTorch's spellings `"fan_in"` and `"fan_out"` are taken too).
   */
  mode?: "fanIn" | "fanOut" | "fan_in" | "fan_out";
  /** The nonlinearity that follows (default `"leaky_relu"`, which with `a = 0` is ReLU's √2). */
  nonlinearity?: Nonlinearity;
  /** The stream to draw from (default the global generator). */
  generator?: Generator;
}

const KAIMING_OPTIONS = optionNames<KaimingOptions>({
  a: true,
  mode: true,
  nonlinearity: true,
  generator: true,
});

/** The standard deviation `gain / √fan` of He's initialisation. */
function kaimingStd(op: string, shape: readonly number[], options: KaimingOptions): number {
  const { a = 0, mode = "fanIn", nonlinearity = "leaky_relu" } = options;
  const fan = ({ fanIn: "fanIn", fan_in: "fanIn", fanOut: "fanOut", fan_out: "fanOut" } as const)[
    mode
  ];
  if (fan === undefined) {
    throw new TypeError(`${op}: mode must be "fanIn" or "fanOut", got ${JSON.stringify(mode)}`);
  }
  return calculateGain(nonlinearity, a) / Math.sqrt(calculateFans(shape)[fan]);
}

/**
 * He's uniform initialisation (`nn.init.kaiming_uniform_`): uniform in ±`√3·gain/√fan`, the
 * fan chosen by `mode`, the gain by `nonlinearity` and `a`. PyTorch's default for `Linear` and
 * `Conv2d` is this with `a = √5`.
 *
 * @example
 * ```ts
 * import { defaultDevice, zeros } from "../mod.ts";
 * import { kaimingUniform } from "./init.ts";
 * await defaultDevice();
 * const w = kaimingUniform(zeros([16, 3, 3, 3]), { nonlinearity: "relu" });
 * console.log((await w.abs().max().item()) <= Math.sqrt(6 / 27)); // true
 * ```
 */
export function kaimingUniform<T extends Tensor>(tensor: T, options: KaimingOptions = {}): T {
  checkOptions("kaimingUniform", options, KAIMING_OPTIONS);
  if (tensor.size === 0) return tensor;
  const bound = Math.sqrt(3) * kaimingStd("kaimingUniform", tensor.shape, options);
  return uniform(tensor, -bound, bound, options.generator);
}

/**
 * He's normal initialisation (`nn.init.kaiming_normal_`): normal with standard deviation
 * `gain/√fan`.
 *
 * @example
 * ```ts
 * import { defaultDevice, zeros } from "../mod.ts";
 * import { kaimingNormal } from "./init.ts";
 * await defaultDevice();
 * const w = kaimingNormal(zeros([256, 128]), { mode: "fanOut", nonlinearity: "relu" });
 * console.log(Math.abs((await w.std().item()) - Math.sqrt(2 / 256)) < 0.003); // true
 * ```
 */
export function kaimingNormal<T extends Tensor>(tensor: T, options: KaimingOptions = {}): T {
  checkOptions("kaimingNormal", options, KAIMING_OPTIONS);
  if (tensor.size === 0) return tensor;
  const std = kaimingStd("kaimingNormal", tensor.shape, options);
  return normal(tensor, 0, std, options.generator);
}

/** The options of {@link truncNormal}. */
export interface TruncNormalOptions {
  /** The mean of the normal before truncation (default 0). */
  mean?: number;
  /** Its standard deviation (default 1). */
  std?: number;
  /** The lower bound, in the tensor's units (default −2). */
  a?: number;
  /** The upper bound (default 2). */
  b?: number;
  /** The stream to draw from (default the global generator). */
  generator?: Generator;
}

const TRUNC_NORMAL_OPTIONS = optionNames<TruncNormalOptions>({
  mean: true,
  std: true,
  a: true,
  b: true,
  generator: true,
});

/**
 * Fills `tensor` with draws from a normal of `mean` and `std` truncated to `[a, b]`
 * (`nn.init.trunc_normal_`), as PyTorch draws them: uniform in `[Φ(α), Φ(β)]` mapped back
 * through the inverse CDF (`erfinv`), so no draw is rejected.
 *
 * @example
 * ```ts
 * import { defaultDevice, zeros } from "../mod.ts";
 * import { truncNormal } from "./init.ts";
 * await defaultDevice();
 * const w = truncNormal(zeros([1000]), { std: 0.02, a: -0.04, b: 0.04 });
 * console.log((await w.abs().max().item()) <= 0.04); // true
 * ```
 */
export function truncNormal<T extends Tensor>(tensor: T, options: TruncNormalOptions = {}): T {
  checkOptions("truncNormal", options, TRUNC_NORMAL_OPTIONS);
  const { mean = 0, std = 1, a = -2, b = 2, generator } = options;
  requireFinite("truncNormal", { mean, std, a, b });
  if (!(std > 0)) throw new RangeError(`truncNormal: std must be > 0, got ${std}`);
  if (!(a < b)) throw new RangeError(`truncNormal: a (${a}) must be below b (${b})`);
  const [low, high] = [a, b].map((bound) => normalCdf((bound - mean) / std));
  return fill(tensor, () => {
    const u = draw(generator).uniform(tensor.shape, 2 * low - 1, 2 * high - 1, tensor.device);
    return erfinv(u).mul(std * Math.SQRT2).add(mean).clamp(a, b);
  });
}

/**
 * Fills a 2-D `tensor` with the identity (`nn.init.eye_`): ones on the diagonal, zeros
 * elsewhere (a rectangular one too), so a linear layer starts by passing its inputs through.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { eye } from "./init.ts";
 * await defaultDevice();
 * console.log(await eye(randn([2, 3])).toArray()); // [[1, 0, 0], [0, 1, 0]]
 * ```
 */
export function eye<T extends Tensor>(tensor: T): T {
  requireF32(tensor);
  if (tensor.rank !== 2) {
    throw new RangeError(`eye: only 2-D tensors are supported, got [${tensor.shape}]`);
  }
  const [rows, cols] = tensor.shape;
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < Math.min(rows, cols); i++) values[i * cols + i] = 1;
  noGrad(() => tensor.assign(values));
  return tensor;
}

/**
 * Fills a 3-, 4- or 5-D convolution weight `[out, in, k…]` with the Dirac delta
 * (`nn.init.dirac_`): each of the first `min(out/groups, in)` output channels of every group
 * copies its own input channel through the kernel's centre, so the convolution starts as the
 * identity on as many channels as it keeps.
 *
 * @example
 * ```ts
 * import { defaultDevice, randn } from "../mod.ts";
 * import { dirac } from "./init.ts";
 * await defaultDevice();
 * const w = dirac(randn([2, 2, 3]));
 * console.log(await w.toArray()); // [[[0, 1, 0], [0, 0, 0]], [[0, 0, 0], [0, 1, 0]]]
 * ```
 */
export function dirac<T extends Tensor>(tensor: T, groups = 1): T {
  requireF32(tensor);
  if (tensor.rank < 3 || tensor.rank > 5) {
    throw new RangeError(
      `dirac: only 3-, 4- or 5-D tensors are supported, got [${tensor.shape}]`,
    );
  }
  const [out, inputs, ...kernel] = tensor.shape;
  if (!Number.isInteger(groups) || groups < 1 || out % groups !== 0) {
    throw new RangeError(`dirac: dim 0 (${out}) must be divisible by groups (${groups})`);
  }
  const perGroup = out / groups;
  const area = numel(kernel);
  // The centre of the kernel, row-major over its axes (k // 2 along each).
  const centre = kernel.reduce((at, k) => at * k + Math.floor(k / 2), 0);
  const values = new Float32Array(tensor.size);
  for (let g = 0; g < groups; g++) {
    for (let d = 0; d < Math.min(perGroup, inputs); d++) {
      values[((g * perGroup + d) * inputs + d) * area + centre] = 1;
    }
  }
  noGrad(() => tensor.assign(values));
  return tensor;
}

/**
 * Fills `tensor` (at least 2-D, viewed as `[rows, rest]`) with a (semi-)orthogonal matrix
 * times `gain` (`nn.init.orthogonal_`): the Q factor of a normal draw, its rows orthonormal
 * when there are fewer rows than columns, its columns otherwise, with the signs PyTorch fixes
 * (R's diagonal positive). The factorisation runs on the host in float64 (modified Gram-Schmidt,
 * twice): `await` it; it is meant for initialisation, of order rows·cols·min(rows, cols) work.
 *
 * @example
 * ```ts
 * import { defaultDevice, zeros } from "../mod.ts";
 * import { orthogonal } from "./init.ts";
 * await defaultDevice();
 * const w = await orthogonal(zeros([3, 5]));
 * const gram = await w.matmul(w.T()).data(); // the 3×3 identity, to rounding
 * console.log(Array.from(gram, Math.round)); // [1, 0, 0, 0, 1, 0, 0, 0, 1]
 * ```
 */
export async function orthogonal<T extends Tensor>(
  tensor: T,
  gain = 1,
  generator?: Generator,
): Promise<T> {
  requireF32(tensor);
  requireFinite("orthogonal", { gain });
  if (tensor.rank < 2) {
    throw new RangeError(
      `orthogonal: only tensors with 2 or more dimensions are supported, got [${tensor.shape}]`,
    );
  }
  if (tensor.size === 0) return tensor;
  const rows = tensor.shape[0], cols = tensor.size / rows;
  const drawn = draw(generator).normal([rows, cols], 0, 1, tensor.device);
  const values = await drawn.data();
  drawn.dispose();
  // Orthonormalise the longer side's vectors: columns of [rows, cols] when rows ≥ cols, else rows.
  const tall = rows >= cols;
  const [count, length] = tall ? [cols, rows] : [rows, cols];
  const vectors = Array.from(
    { length: count },
    (_, j) => Float64Array.from({ length }, (_, i) => values[tall ? i * cols + j : j * cols + i]),
  );
  for (let j = 0; j < count; j++) {
    const v = vectors[j];
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        const dot = vectors[k].reduce((a, x, i) => a + x * v[i], 0);
        for (let i = 0; i < length; i++) v[i] -= dot * vectors[k][i];
      }
    }
    const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    for (let i = 0; i < length; i++) v[i] /= norm;
  }
  const q = new Float32Array(rows * cols);
  vectors.forEach((v, j) =>
    v.forEach((x, i) => (q[tall ? i * cols + j : j * cols + i] = gain * x))
  );
  noGrad(() => tensor.assign(q));
  return tensor;
}

/**
 * Fills a 2-D `tensor` as a sparse matrix (`nn.init.sparse_`, Martens 2010): normal draws of
 * standard deviation `std`, then in each column ⌈sparsity · rows⌉ entries, chosen at random,
 * set to 0. The zeroed rows of a column are those of its smallest uniform keys, a random subset
 * of that size as PyTorch's `randperm(rows)[:k]` is (not the same draws: the streams differ).
 *
 * @example
 * ```ts
 * import { defaultDevice, zeros } from "../mod.ts";
 * import { sparse } from "./init.ts";
 * await defaultDevice();
 * const w = sparse(zeros([10, 3]), 0.3);
 * const data = await w.data();
 * const zerosPerColumn = [0, 1, 2].map((c) => [...Array(10).keys()].filter((r) => data[r * 3 + c] === 0).length);
 * console.log(zerosPerColumn); // [3, 3, 3]
 * ```
 */
export function sparse<T extends Tensor>(
  tensor: T,
  sparsity: number,
  std = 0.01,
  generator?: Generator,
): T {
  requireF32(tensor);
  if (tensor.rank !== 2) {
    throw new RangeError(`sparse: only 2-D tensors are supported, got [${tensor.shape}]`);
  }
  requireFinite("sparse", { sparsity, std });
  if (!(sparsity >= 0 && sparsity <= 1)) {
    throw new RangeError(`sparse: sparsity must be in [0, 1], got ${sparsity}`);
  }
  const zeroed = Math.ceil(sparsity * tensor.shape[0]);
  return fill(tensor, () => {
    const stream = draw(generator);
    const values = stream.normal(tensor.shape, 0, std, tensor.device);
    if (zeroed === 0) return values;
    // Each key's rank in its column; ranks below `zeroed` are the column's zeroed rows.
    const keys = stream.uniform(tensor.shape, 0, 1, tensor.device);
    const ranks = keys.argsort({ dim: 0 }).argsort({ dim: 0 });
    return values.where(ranks.ge(zeroed), 0);
  });
}

/** The generator to draw from. */
function draw(generator: Generator | undefined): Generator {
  return generator ?? globalGenerator();
}

/** Φ(x), the standard normal CDF, in float64 (for the bounds of {@link truncNormal}). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  // erfc(z): the continued fraction above 3, 1 − erf(z) by its series of positive terms below.
  let erfc: number;
  if (z >= 3) {
    let k = z;
    for (let n = 60; n >= 1; n--) k = z + n / 2 / k;
    erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / k;
  } else {
    let term = z, total = z;
    for (let n = 1; term > total * 1e-17; n++) {
      term *= (2 * z * z) / (2 * n + 1);
      total += term;
    }
    erfc = 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-z * z) * total;
  }
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}
