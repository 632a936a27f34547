/**
 * torchvision's ResNet and VGG transcribed for the tests: the state-dict keys and shapes its
 * Python code builds (`resnet.py`'s `_make_layer`, `vgg.py`'s `make_layers`), and float64
 * forward passes of the networks over host weights named by those keys.
 *
 * @module
 */

import type { Module } from "../nn/module.ts";
import * as ref from "./_reference.ts";
import type { F64 } from "./_reference.ts";
import { batchNormForward, type ChannelStats, channelStats } from "./_norm_reference.ts";

/** A state dict entry: key and shape, in order. */
export type Entry = [string, number[]];

function bnEntries(name: string, c: number): Entry[] {
  return [
    [`${name}.weight`, [c]],
    [`${name}.bias`, [c]],
    [`${name}.running_mean`, [c]],
    [`${name}.running_var`, [c]],
    [`${name}.num_batches_tracked`, []],
  ];
}

/**
 * torchvision's `ResNet(block, layers, num_classes, groups, width_per_group,
 * replace_stride_with_dilation)` state dict.
 */
export function torchvisionResNet(
  block: "basic" | "bottleneck",
  layers: readonly number[],
  numClasses = 1000,
  groups = 1,
  widthPerGroup = 64,
  dilate: readonly boolean[] = [false, false, false],
): Entry[] {
  const expansion = block === "basic" ? 1 : 4;
  let inplanes = 64;
  const out: Entry[] = [["conv1.weight", [64, 3, 7, 7]], ...bnEntries("bn1", 64)];
  const makeLayer = (name: string, planes: number, blocks: number, s: number, d = false) => {
    const stride = d ? 1 : s;
    const downsample = stride !== 1 || inplanes !== planes * expansion;
    for (let i = 0; i < blocks; i++) {
      const p = `${name}.${i}`;
      if (block === "basic") {
        out.push([`${p}.conv1.weight`, [planes, inplanes, 3, 3]], ...bnEntries(`${p}.bn1`, planes));
        out.push([`${p}.conv2.weight`, [planes, planes, 3, 3]], ...bnEntries(`${p}.bn2`, planes));
      } else {
        const width = Math.floor(planes * (widthPerGroup / 64)) * groups;
        out.push([`${p}.conv1.weight`, [width, inplanes, 1, 1]], ...bnEntries(`${p}.bn1`, width));
        out.push(
          [`${p}.conv2.weight`, [width, width / groups, 3, 3]],
          ...bnEntries(`${p}.bn2`, width),
        );
        out.push(
          [`${p}.conv3.weight`, [planes * 4, width, 1, 1]],
          ...bnEntries(`${p}.bn3`, planes * 4),
        );
      }
      if (i === 0 && downsample) {
        out.push(
          [`${p}.downsample.0.weight`, [planes * expansion, inplanes, 1, 1]],
          ...bnEntries(`${p}.downsample.1`, planes * expansion),
        );
      }
      inplanes = planes * expansion;
    }
  };
  makeLayer("layer1", 64, layers[0], 1);
  makeLayer("layer2", 128, layers[1], 2, dilate[0]);
  makeLayer("layer3", 256, layers[2], 2, dilate[1]);
  makeLayer("layer4", 512, layers[3], 2, dilate[2]);
  out.push(["fc.weight", [numClasses, 512 * expansion]], ["fc.bias", [numClasses]]);
  return out;
}

/** torchvision's `VGG(make_layers(cfg, batch_norm), num_classes)` state dict. */
export function torchvisionVGG(
  cfg: readonly (number | "M")[],
  batchNorm: boolean,
  numClasses = 1000,
): Entry[] {
  const out: Entry[] = [];
  let index = 0, inChannels = 3;
  for (const v of cfg) {
    if (v === "M") {
      index += 1;
      continue;
    }
    out.push([`features.${index}.weight`, [v, inChannels, 3, 3]], [`features.${index}.bias`, [v]]);
    if (batchNorm) out.push(...bnEntries(`features.${index + 1}`, v));
    index += batchNorm ? 3 : 2;
    inChannels = v;
  }
  out.push(["classifier.0.weight", [4096, 512 * 7 * 7]], ["classifier.0.bias", [4096]]);
  out.push(["classifier.3.weight", [4096, 4096]], ["classifier.3.bias", [4096]]);
  out.push(["classifier.6.weight", [numClasses, 4096]], ["classifier.6.bias", [numClasses]]);
  return out;
}

/** Host weights by state-dict key. */
export type HostState = Map<string, F64>;

/** A module's state dict as float64 reference tensors, by key. */
export async function referenceState(model: Module): Promise<HostState> {
  const out: HostState = new Map();
  for (const [name, t] of Object.entries(await model.stateDict())) {
    out.set(name, ref.f64(t.shape as number[], await t.data()));
    t.dispose();
  }
  return out;
}

/**
 * How the reference runs: training mode normalises by the batch's statistics and records them
 * (biased mean, unbiased variance, as the running update takes them) by batch norm name.
 */
export interface RefMode {
  training: boolean;
  batchStats?: Map<string, ChannelStats>;
}

function conv(
  state: HostState,
  name: string,
  x: F64,
  stride: number,
  padding: number,
  groups = 1,
  dilation = 1,
): F64 {
  return ref.conv2d(x, state.get(`${name}.weight`)!, state.get(`${name}.bias`) ?? null, {
    stride: [stride, stride],
    padding: [padding, padding],
    groups,
    dilation: [dilation, dilation],
  });
}

function bn(state: HostState, name: string, x: F64, mode: RefMode): F64 {
  const w = state.get(`${name}.weight`)!.data, b = state.get(`${name}.bias`)!.data;
  if (mode.training) {
    mode.batchStats?.set(name, {
      mean: channelStats(x).mean,
      variance: channelStats(x, true).variance,
    });
    return batchNormForward(x, w, b, 1e-5);
  }
  return batchNormForward(x, w, b, 1e-5, {
    mean: state.get(`${name}.running_mean`)!.data,
    variance: state.get(`${name}.running_var`)!.data,
  });
}

/**
 * torchvision's residual block named `p` (basic or bottleneck; "" for a block alone) on `x`,
 * its 3×3 convolution strided by `stride`, dilated by `dilation` and padded by it.
 */
export function blockReference(
  state: HostState,
  p: string,
  x: F64,
  stride: number,
  groups: number,
  mode: RefMode,
  dilation = 1,
): F64 {
  const k = (name: string) => (p ? `${p}.${name}` : name);
  let out: F64;
  if (state.has(k("conv3.weight"))) {
    out = ref.relu(bn(state, k("bn1"), conv(state, k("conv1"), x, 1, 0), mode));
    const conv2 = conv(state, k("conv2"), out, stride, dilation, groups, dilation);
    out = ref.relu(bn(state, k("bn2"), conv2, mode));
    out = bn(state, k("bn3"), conv(state, k("conv3"), out, 1, 0), mode);
  } else {
    out = ref.relu(bn(state, k("bn1"), conv(state, k("conv1"), x, stride, 1), mode));
    out = bn(state, k("bn2"), conv(state, k("conv2"), out, 1, 1), mode);
  }
  const shortcut = state.has(k("downsample.0.weight"))
    ? bn(state, k("downsample.1"), conv(state, k("downsample.0"), x, stride, 0), mode)
    : x;
  return ref.relu(ref.add(out, shortcut));
}

/**
 * torchvision's ResNet forward (or the CIFAR stem's) on `x`, the blocks found by key, stages 2–4
 * dilated instead of strided where `dilate` says so (`replace_stride_with_dilation`).
 */
export function resnetReference(
  state: HostState,
  x: F64,
  options: { stem: "imagenet" | "cifar"; groups: number; dilate?: readonly boolean[] },
  mode: RefMode,
): F64 {
  const cifar = options.stem === "cifar";
  let h = ref.relu(bn(state, "bn1", conv(state, "conv1", x, cifar ? 1 : 2, cifar ? 1 : 3), mode));
  if (!cifar) h = ref.maxPool2d(h, { kernel: [3, 3], stride: [2, 2], padding: [1, 1] });
  let dilation = 1;
  for (let stage = 1; stage <= 4; stage++) {
    const previous = dilation;
    let stride = stage > 1 ? 2 : 1;
    if (stage > 1 && options.dilate?.[stage - 2]) [dilation, stride] = [dilation * stride, 1];
    for (let i = 0; state.has(`layer${stage}.${i}.conv1.weight`); i++) {
      const [s, d] = i === 0 ? [stride, previous] : [1, dilation];
      h = blockReference(state, `layer${stage}.${i}`, h, s, options.groups, mode, d);
    }
  }
  h = ref.adaptiveAvgPool2d(h, [1, 1]);
  h = ref.reshape(h, [h.shape[0], -1]);
  return ref.linear(h, state.get("fc.weight")!, state.get("fc.bias")!);
}

/**
 * torchvision's VGG forward on `x` (dropout as the identity: evaluation, or p = 0), its feature
 * layers read from `cfg`.
 */
export function vggReference(
  state: HostState,
  x: F64,
  cfg: readonly (number | "M")[],
  batchNorm: boolean,
  poolSize: number,
  mode: RefMode,
): F64 {
  let h = x, index = 0;
  for (const v of cfg) {
    if (v === "M") {
      h = ref.maxPool2d(h, { kernel: [2, 2], stride: [2, 2] });
      index += 1;
      continue;
    }
    h = conv(state, `features.${index}`, h, 1, 1);
    if (batchNorm) h = bn(state, `features.${index + 1}`, h, mode);
    h = ref.relu(h);
    index += batchNorm ? 3 : 2;
  }
  h = ref.adaptiveAvgPool2d(h, [poolSize, poolSize]);
  h = ref.reshape(h, [h.shape[0], -1]);
  for (const i of [0, 3, 6]) {
    h = ref.linear(h, state.get(`classifier.${i}.weight`)!, state.get(`classifier.${i}.bias`)!);
    if (i < 6) h = ref.relu(h);
  }
  return h;
}
