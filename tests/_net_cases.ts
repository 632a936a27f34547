/**
 * The random networks of `fuzz_net_test.ts`: what one case is (the layers, the loss, the
 * optimiser, the input's layout), how it is drawn from a seed, described in a failure, and
 * built from the public `nn` modules on one device or two.
 *
 * @module
 */

import {
  AdaptiveAvgPool2d,
  AdaptiveMaxPool2d,
  AvgPool2d,
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  Dropout,
  Flatten,
  type Layer,
  Linear,
  LocalResponseNorm,
  MaxPool2d,
  type Module,
  ReLU,
  Tanh,
  Upsample,
} from "../nn/mod.ts";
import { type Device, Generator, type Tensor } from "../mod.ts";
import type { LayerSpec, LossSpec, SgdSpec } from "./_net_reference.ts";
import { poolOutSize } from "./_reference.ts";
import type { Draw } from "./_fuzz.ts";

/** Largest multiply-adds of one convolution (keeps the float64 reference quick). */
export const MAX_MACS = 100_000;

/** One drawn case: the network, its input's shape, the loss and the optimiser. */
export interface NetCase {
  input: number[];
  layers: LayerSpec[];
  /** Each layer's output shape. */
  shapes: number[][];
  classes: number;
  loss: LossSpec;
  /** The optimiser's group of every parameter (of the biases too unless `biasSgd`). */
  sgd: SgdSpec;
  /** A second group for the biases (PyTorch users often exempt them from weight decay). */
  biasSgd?: SgdSpec;
  /** A learning rate set on every group between the two steps (as a plateau schedule does). */
  lrAfterFirst?: number;
  /** The input laid out `[N, H, W, C]` and fed as a permuted view. */
  channelsLast: boolean;
  /** Standard deviation of the input's values. */
  inputScale: number;
  /** Parameters frozen (`requiresGrad = false`): no gradient, and SGD leaves them alone. */
  frozen: string[];
}

function activationOf(d: Draw): { fused: "relu" | "tanh" | null; module: "relu" | "tanh" | null } {
  const pick = d.pick(["none", "relu", "relu", "tanh", "relu module", "tanh module"] as const);
  if (pick === "none") return { fused: null, module: null };
  if (pick === "relu module") return { fused: null, module: "relu" };
  if (pick === "tanh module") return { fused: null, module: "tanh" };
  return { fused: pick, module: null };
}

/** Output size of a window (its taps `dilation` apart), or 0 when it does not fit. */
function fits(size: number, k: number, stride: number, pad: number, dilation = 1): number {
  const span = dilation * (k - 1) + 1;
  return size + 2 * pad < span ? 0 : Math.floor((size + 2 * pad - span) / stride) + 1;
}

/** A dilation pair for one layer in four (1 to 3 per axis), else none. */
function drawDilation(d: Draw): [number, number] | undefined {
  return d.chance(0.25) ? [d.int(1, 3), d.int(1, 3)] : undefined;
}

/** A transposed convolution of `shape`, pushed when it fits the reference's budget. */
function drawTranspose(
  d: Draw,
  shape: readonly number[],
  push: (layer: LayerSpec, out: number[]) => void,
): void {
  const [n, c, h, w] = shape;
  const groups = d.pick([1, 1, 2].filter((g) => c % g === 0));
  const outChannels = groups * d.int(1, Math.max(1, Math.floor(6 / groups)));
  const kernel: [number, number] = [d.int(1, 4), d.int(1, 4)];
  const stride: [number, number] = [d.int(1, 3), d.int(1, 3)];
  const dilation: [number, number] = d.chance(0.2) ? [d.int(1, 2), d.int(1, 2)] : [1, 1];
  const span = (a: 0 | 1) => dilation[a] * (kernel[a] - 1);
  const padding: [number, number] = [d.int(0, span(0) >> 1), d.int(0, span(1) >> 1)];
  // Below the stride (PyTorch also takes one below a larger dilation, outside the sweep).
  const outputPadding: [number, number] = [d.int(0, stride[0] - 1), d.int(0, stride[1] - 1)];
  const size = (a: 0 | 1) =>
    ([h, w][a] - 1) * stride[a] - 2 * padding[a] + span(a) + outputPadding[a] + 1;
  const out = [n, outChannels, size(0), size(1)];
  const macs = n * c * h * w * (outChannels / groups) * kernel[0] * kernel[1];
  if (macs > MAX_MACS || out.reduce((a, b) => a * b) > 6000) return;
  push({
    kind: "convTranspose",
    inChannels: c,
    outChannels,
    kernel,
    stride,
    padding,
    outputPadding,
    groups,
    bias: d.chance(0.7),
    dilation,
  }, out);
}

export function drawNet(d: Draw): NetCase {
  const layers: LayerSpec[] = [], shapes: number[][] = [];
  const input = [d.int(1, 3), d.int(1, 4), d.int(5, 23), d.int(5, 23)];
  let shape = input;
  const push = (layer: LayerSpec, out: number[]) => {
    layers.push(layer);
    shapes.push(out);
    shape = out;
  };
  const blocks = d.int(1, 3);
  for (let b = 0; b < blocks; b++) {
    const [n, c, h, w] = shape;
    const groups = d.pick([1, 1, 2, 3, 4].filter((g) => c % g === 0));
    let outChannels = groups * d.int(1, Math.max(1, Math.floor((d.chance(0.3) ? 20 : 8) / groups)));
    const kh = d.int(1, 5), kw = d.chance(0.5) ? kh : d.int(1, 5);
    const stride: [number, number] = d.chance(0.6)
      ? [d.int(1, 3), d.int(1, 3)]
      : ((s) => [s, s])(d.int(1, 3)) as [number, number];
    const padding: [number, number] = [d.int(0, 2), d.int(0, 2)];
    const dilation = drawDilation(d);
    const [dh, dw] = dilation ?? [1, 1];
    // As many taps as fit the padded input at that dilation.
    const kernel: [number, number] = [
      Math.min(kh, Math.floor((h + 2 * padding[0] - 1) / dh) + 1),
      Math.min(kw, Math.floor((w + 2 * padding[1] - 1) / dw) + 1),
    ];
    const oh = fits(h, kernel[0], stride[0], padding[0], dh),
      ow = fits(w, kernel[1], stride[1], padding[1], dw);
    const macs = (o: number) => n * o * oh * ow * (c / groups) * kernel[0] * kernel[1];
    while (outChannels > groups && macs(outChannels) > MAX_MACS) outChannels -= groups;
    const act = activationOf(d);
    // A padding mode where the padding is some (reflection needs less than the input's size).
    const modes = (["reflect", "replicate", "circular"] as const).filter((mode) =>
      padding.some((p) => p > 0) &&
      padding.every((p, a) => (mode === "reflect" ? p < shape[2 + a] : p <= shape[2 + a]))
    );
    const paddingMode = modes.length > 0 && d.chance(0.3) ? d.pick(modes) : undefined;
    push({
      kind: "conv",
      inChannels: c,
      outChannels,
      kernel,
      stride,
      padding,
      groups,
      bias: d.chance(0.7),
      activation: act.fused,
      ...(dilation ? { dilation } : {}),
      ...(paddingMode ? { paddingMode } : {}),
    }, [n, outChannels, oh, ow]);
    if (act.module) push({ kind: act.module }, shape);
    // Batch norm needs two values per channel or more (PyTorch's error otherwise).
    if (d.chance(0.3) && shape[0] * shape[2] * shape[3] >= 2) {
      push({ kind: "batchnorm", features: outChannels, affine: d.chance(0.7) }, shape);
    }
    if (d.chance(0.35)) {
      const divisors = [1, 2, 3, 4, 6, 8].filter((g) => outChannels % g === 0);
      push({
        kind: "lrn",
        size: d.pick([1, 3, 5, 7]),
        k: d.pick([0.5, 1, 2]),
        alpha: d.pick([1e-4, 0.01, 0.3]),
        beta: d.pick([0.5, 0.75, 1, 1.5]),
        groupSize: d.chance(0.5) ? d.pick(divisors) : undefined,
      }, shape);
    }
    if (d.chance(0.65)) {
      const overlapping = d.chance(0.4);
      const k: [number, number] = overlapping ? [3, 3] : [d.int(1, 4), d.int(1, 4)];
      const s: [number, number] = overlapping ? [2, 2] : [d.int(1, 3), d.int(1, 3)];
      const p: [number, number] = overlapping ? [0, 0] : [d.int(0, k[0] >> 1), d.int(0, k[1] >> 1)];
      const [ph, pw] = [fits(shape[2], k[0], s[0], p[0]), fits(shape[3], k[1], s[1], p[1])];
      if (ph > 0 && pw > 0) {
        // Average pooling and ceil mode, drawn after the window so that max-pool nets keep it.
        const average = d.chance(0.3), ceilMode = d.chance(0.3);
        // Max pooling may be dilated (unpadded: a padded dilated window can hold no input
        // cell at all, which the reference's routing does not model), where it still fits.
        let dilation = !average && p[0] === 0 && p[1] === 0 ? drawDilation(d) : undefined;
        if (dilation && !dilation.every((dd, a) => fits(shape[2 + a], k[a], s[a], 0, dd) > 0)) {
          dilation = undefined;
        }
        const span = (axis: 0 | 1) => (dilation?.[axis] ?? 1) * (k[axis] - 1) + 1;
        const size = (axis: 0 | 1) =>
          poolOutSize(shape[2 + axis], span(axis), s[axis], p[axis], ceilMode);
        const window = { kernel: k, stride: s, padding: p, ...(dilation ? { dilation } : {}) };
        push({ kind: "pool", ...window, ceilMode, average }, [
          shape[0],
          shape[1],
          size(0),
          size(1),
        ]);
      }
    }
    if (d.chance(0.25)) {
      // Adaptive pooling, average or max: fewer, as many or more cells than the input has.
      const size: [number, number] = [d.int(1, shape[2] + 1), d.int(1, shape[3] + 1)];
      push({ kind: "adaptive", size, max: d.chance(0.4) }, [shape[0], shape[1], ...size]);
    }
    if (d.chance(0.2)) drawTranspose(d, shape, push);
    if (d.chance(0.15) && shape[0] * shape[1] * shape[2] * shape[3] <= 2000) {
      const scale: [number, number] = [d.int(1, 3), d.int(1, 3)];
      push({ kind: "upsample", scale }, [
        shape[0],
        shape[1],
        shape[2] * scale[0],
        shape[3] * scale[1],
      ]);
    }
    if (d.chance(0.25)) push({ kind: "dropout", p: d.pick([0, 0.1, 0.5, 0.9]) }, shape);
  }
  push({ kind: "flatten" }, [shape[0], shape[1] * shape[2] * shape[3]]);
  for (let hidden = d.int(0, 2); hidden > 0; hidden--) {
    const act = activationOf(d);
    const out = d.chance(0.3) ? d.int(25, 70) : d.int(2, 24);
    push({
      kind: "linear",
      inFeatures: shape[1],
      outFeatures: out,
      bias: d.chance(0.8),
      activation: act.fused,
    }, [shape[0], out]);
    if (act.module) push({ kind: act.module }, shape);
    if (d.chance(0.4)) push({ kind: "dropout", p: d.pick([0.1, 0.5, 0.5, 0.9]) }, shape);
  }
  const classes = d.int(2, 10);
  push({
    kind: "linear",
    inFeatures: shape[1],
    outFeatures: classes,
    bias: d.chance(0.8),
    activation: null,
  }, [shape[0], classes]);
  const loss: LossSpec = {
    reduction: d.pick(["mean", "mean", "sum", "none"] as const),
    labelSmoothing: d.pick([0, 0, 0.1, 0.4]),
  };
  if (d.chance(0.2)) {
    const [n] = input;
    loss.probabilities = Float64Array.from(
      Float32Array.from({ length: n * classes }, () => d.chance(0.3) ? 0 : d.next()),
    );
  } else if (d.chance(0.3)) loss.ignoreIndex = d.pick([-100, 0, classes - 1]);
  if (d.chance(0.3)) {
    loss.weight = Float64Array.from(
      Float32Array.from({ length: classes }, () => 0.25 + d.next() * 2),
    );
  }
  const optimiser = (): SgdSpec => ({
    formulation: d.pick(["paper", "paper", "pytorch"] as const),
    lr: d.pick([0.01, 0.1, 0.5]),
    momentum: d.pick([0, 0.5, 0.9]),
    weightDecay: d.pick([0, 5e-4, 0.05]),
  });
  const sgd = optimiser();
  const biasSgd = d.chance(0.3) ? optimiser() : undefined;
  const lrAfterFirst = d.chance(0.3) ? sgd.lr / 10 : undefined;
  const channelsLast = d.chance(0.3), inputScale = d.pick([1, 1, 0.01, 30]);
  const trainable = layers.flatMap((s, i) =>
    s.kind === "conv" || s.kind === "linear" || s.kind === "convTranspose"
      ? [`${i}.weight`, ...(s.bias ? [`${i}.bias`] : [])]
      : s.kind === "batchnorm" && s.affine
      ? [`${i}.weight`, `${i}.bias`]
      : []
  );
  const frozen = d.chance(0.25) ? [d.pick(trainable)] : [];
  return {
    input,
    layers,
    shapes,
    classes,
    loss,
    sgd,
    biasSgd,
    lrAfterFirst,
    channelsLast,
    inputScale,
    frozen,
  };
}

export function describe(c: NetCase): string {
  const layer = (s: LayerSpec): string => {
    switch (s.kind) {
      case "conv":
        return `conv ${s.inChannels}→${s.outChannels} k${s.kernel} s${s.stride} p${s.padding}` +
          `${s.dilation ? ` d${s.dilation}` : ""}${s.groups > 1 ? ` g${s.groups}` : ""}` +
          `${s.paddingMode ? ` ${s.paddingMode}` : ""}${s.bias ? "" : " nobias"}` +
          `${s.activation ? ` +${s.activation}` : ""}`;
      case "convTranspose":
        return `convTranspose ${s.inChannels}→${s.outChannels} k${s.kernel} s${s.stride} ` +
          `p${s.padding} op${s.outputPadding} d${s.dilation}${
            s.groups > 1 ? ` g${s.groups}` : ""
          }` +
          `${s.bias ? "" : " nobias"}`;
      case "linear":
        return `linear ${s.inFeatures}→${s.outFeatures}${s.bias ? "" : " nobias"}` +
          `${s.activation ? ` +${s.activation}` : ""}`;
      case "lrn":
        return `lrn n${s.size} k${s.k} α${s.alpha} β${s.beta}` +
          `${s.groupSize ? ` groups of ${s.groupSize}` : ""}`;
      case "pool":
        return `${s.average ? "avg" : "max"} pool k${s.kernel} s${s.stride} p${s.padding}` +
          `${s.dilation ? ` d${s.dilation}` : ""}${s.ceilMode ? " ceil" : ""}`;
      case "adaptive":
        return `adaptive ${s.max ? "max" : "avg"} pool to ${s.size}`;
      case "batchnorm":
        return `batch norm ${s.features}${s.affine ? "" : " no affine"}`;
      case "dropout":
        return `dropout ${s.p}`;
      case "upsample":
        return `upsample nearest ×${s.scale}`;
      default:
        return s.kind;
    }
  };
  const { weight, probabilities, ...loss } = c.loss;
  return `x [${c.input}]${c.channelsLast ? " channels last" : ""} ×${c.inputScale}: ` +
    `${c.layers.map(layer).join(", ")}; loss ${JSON.stringify(loss)}` +
    `${weight ? " weighted" : ""}${probabilities ? " probabilities" : ""}; ` +
    `sgd ${JSON.stringify(c.sgd)}${c.biasSgd ? `, biases ${JSON.stringify(c.biasSgd)}` : ""}` +
    `${c.lrAfterFirst === undefined ? "" : `, lr ${c.lrAfterFirst} after the first step`}`;
}

/** The seed of dropout layer `i`'s generator (the same on one device and two). */
export const dropoutSeed = (caseSeed: number, i: number) => caseSeed * 101 + i;

/** The layers of `c` on `device` (layer i on `deviceOf(i)`), initialised from `initSeed`. */
export function buildLayers(
  c: NetCase,
  caseSeed: number,
  initSeed: number,
  deviceOf: (i: number) => Device,
): Layer[] {
  const layers = c.layers.map((s, i): Layer => {
    const device = deviceOf(i), generator = new Generator(initSeed * 1000 + i);
    switch (s.kind) {
      case "conv":
        return new Conv2d({
          inChannels: s.inChannels,
          outChannels: s.outChannels,
          kernelSize: s.kernel,
          stride: s.stride,
          padding: s.padding,
          groups: s.groups,
          dilation: s.dilation,
          paddingMode: s.paddingMode,
          bias: s.bias,
          activation: s.activation,
          device,
          generator,
        });
      case "convTranspose":
        return new ConvTranspose2d({
          inChannels: s.inChannels,
          outChannels: s.outChannels,
          kernelSize: s.kernel,
          stride: s.stride,
          padding: s.padding,
          outputPadding: s.outputPadding,
          groups: s.groups,
          dilation: s.dilation,
          bias: s.bias,
          device,
          generator,
        });
      case "linear":
        return new Linear({
          inFeatures: s.inFeatures,
          outFeatures: s.outFeatures,
          bias: s.bias,
          activation: s.activation,
          device,
          generator,
        });
      case "relu":
        return new ReLU();
      case "tanh":
        return new Tanh();
      case "lrn":
        return new LocalResponseNorm({
          size: s.size,
          k: s.k,
          alpha: s.alpha,
          beta: s.beta,
          groupSize: s.groupSize,
        });
      case "pool": {
        const window = { kernelSize: s.kernel, stride: s.stride, padding: s.padding };
        const ceilMode = s.ceilMode ?? false;
        return s.average
          ? new AvgPool2d({ ...window, ceilMode })
          : new MaxPool2d({ ...window, ceilMode, dilation: s.dilation });
      }
      case "adaptive":
        return s.max ? new AdaptiveMaxPool2d(s.size) : new AdaptiveAvgPool2d(s.size);
      case "batchnorm":
        return new BatchNorm2d({
          numFeatures: s.features,
          affine: s.affine,
          trackRunningStats: false,
          device,
        });
      case "dropout":
        return new Dropout({ p: s.p, generator: new Generator(dropoutSeed(caseSeed, i)) });
      case "upsample":
        return new Upsample({ scaleFactor: s.scale });
      case "flatten":
        return new Flatten();
    }
  });
  for (const [name, p] of namedParameters(layers)) {
    if (c.frozen.includes(name)) p.requiresGrad = false;
  }
  return layers;
}

/** A tower's parameter (`3.1.weight`) by the name of the whole layer's (`3.weight`). */
export function logicalName(name: string): string {
  return name.replace(/^(\d+)\.[01]\./, "$1.");
}

/** The parameters of `named` that are not frozen. */
export function trainable(c: NetCase, named: [string, Tensor][]): [string, Tensor][] {
  return named.filter(([name]) => !c.frozen.includes(logicalName(name)));
}

/** Every parameter of the layers, named as one `Sequential` of them names it. */
export function namedParameters(layers: readonly Module[]): [string, Tensor][] {
  return layers.flatMap((layer, i) =>
    layer.namedParameters().map(([name, p]): [string, Tensor] => [`${i}.${name}`, p])
  );
}
