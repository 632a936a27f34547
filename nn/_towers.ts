/**
 * A layer split along its output channels into towers on different devices (the AlexNet
 * paper's two GPUs). Each tower is an ordinary layer named `"0"`, `"1"`, … (so physical
 * parameters are `conv2.0.weight`, `conv2.1.weight`); the state dict sees one parameter per
 * name, the towers' parts stacked along axis 0, exactly the weight of the same layer on one
 * device.
 *
 * @module
 */

import { conv2d } from "../tensor/ops_cnn.ts";
import { add } from "../tensor/ops_elementwise.ts";
import { linear } from "../tensor/ops_matmul.ts";
import { concat, slice } from "../tensor/ops_shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { transfer, TransferChannel } from "../tensor/transfer.ts";
import type { Conv2d } from "./conv2d.ts";
import { Linear } from "./linear.ts";
import { Module, type ParameterSlot, swapInList } from "./module.ts";
import type { Layer } from "./sequential.ts";

/** Parts of one layer, tower by tower. */
export class Towers<M extends Module> extends Module {
  /** The towers' layers, in output-channel order. */
  readonly parts: readonly M[];

  /** Wraps the towers' layers; they must have the same parameter names. */
  constructor(parts: readonly M[]) {
    super();
    this.parts = parts.map((part, i) => this.registerModule(String(i), part));
  }

  /** Puts `replacement` in `old`'s place among the towers (for `replaceModule`). */
  protected override swapChild(old: Module, replacement: Module): void {
    swapInList(this.parts as M[], old, replacement as M);
  }

  /**
   * The layer the towers split, on one input: each tower computes its output channels from the
   * whole input on its own device, and the parts are joined along axis 1 on the first tower's
   * device, which is what the same layer on one device computes. (AlexNet's towers that see
   * only their own half of the input are run part by part by the network instead.)
   */
  async forward(x: Tensor): Promise<Tensor> {
    const parts: Tensor[] = [];
    let home: Tensor["device"] | undefined;
    try {
      for (const part of this.parts) {
        const device = part.devices()[0] ?? x.device;
        home ??= device;
        const input = await x.to(device);
        const y = await part.forward(input);
        input.dispose();
        parts.push(y.device === home ? y : await moved(y, home));
      }
      return concat(parts, 1);
    } finally {
      for (const y of parts) y.dispose();
    }
  }

  /** One slot per parameter name, with one shard per tower. */
  override stateSlots(): ParameterSlot[] {
    const perTower = this.parts.map((part) => part.stateSlots());
    const names = perTower[0].map((slot) => slot.name);
    for (const slots of perTower) {
      if (slots.length !== names.length || slots.some((s, i) => s.name !== names[i])) {
        throw new Error(`towers have different parameters: ${slots.map((s) => s.name)}`);
      }
    }
    return names.map((_, i) => ({
      ...perTower[0][i],
      shards: perTower.flatMap((slots) => slots[i].shards),
    }));
  }
}

/**
 * A cut where the towers exchange activations (the paper's GPUs talk only at such cuts). It
 * keeps the cut's staging buffers across steps, and moves both directions in one host round
 * trip, forward and backward alike.
 *
 * The layer after the cut reads its own tower's activations and the other's, joined along axis
 * 1, and runs whole on the joined input: one product, its activation fused, its sums in the
 * order one device uses, so one and two devices compute the same function.
 *
 * Between separate GPUDevices a layer without an activation is instead run as two products, one
 * over each half of its input (the weight split along its input axis): the product over the own
 * half needs nothing from the other device, so it runs while the host waits for the other half
 * (see `transfer`'s `whileWaiting`). That changes only the rounding of the sum. After a ReLU it
 * would change more: a pre-activation that is zero up to rounding lands on either side of the
 * ReLU's zero, and that unit's gradient is then all or nothing. On the paper's net at batch 2
 * (fc6, fc7 and conv3 split this way) conv1.weight's gradient differed from one device's by
 * 1.2e-2 (relative); run whole, 3e-6. Running them whole costs nothing measurable on lavapipe
 * (two GPUDevices, scaled net, batch 32: 1.70x one device's step before, 1.53x after, medians of
 * 5 blocks on a loaded machine; 240 -> 184 dispatches a step, no weight slices).
 */
export class TowerCut {
  readonly #channel: TransferChannel;

  /** A cut named `name` (for errors). */
  constructor(name: string) {
    this.#channel = new TransferChannel(name);
  }

  /**
   * Tower A's `layers[0]` and tower B's `layers[1]`, each on its own activations joined with
   * the other's (tower A's first): the layer after a cut where both towers read both halves.
   */
  async into(a: Tensor, b: Tensor, layers: readonly Part[]): Promise<[Tensor, Tensor]> {
    if (a.device.sharesGpuWith(b.device)) {
      // A copy costs no dispatch here, a join two: join once, on tower A, and copy the
      // joined input to tower B (its gradient then returns as one copy and one add, where
      // joining on each side took two joins forward and two slices and two adds backward).
      const [bOnA] = await transfer([[b, a.device]], this.#channel);
      const joinedOnA = concat([a, bOnA], 1);
      bOnA.dispose();
      const [joinedOnB] = await transfer([[joinedOnA, b.device]], this.#channel);
      const out: [Tensor, Tensor] = [
        (layers[0] as Layer).forward(joinedOnA),
        (layers[1] as Layer).forward(joinedOnB),
      ];
      joinedOnA.dispose();
      joinedOnB.dispose();
      return out;
    }
    if (!layers.every((layer) => splitsWhileWaiting(layer, a, b))) {
      const [bOnA, aOnB] = await transfer([[b, a.device], [a, b.device]], this.#channel);
      const out: [Tensor, Tensor] = [whole(layers[0], [a, bOnA]), whole(layers[1], [aOnB, b])];
      bOnA.dispose();
      aOnB.dispose();
      return out;
    }
    const half = a.shape[1];
    let own: Tensor[] = [];
    const [bOnA, aOnB] = await transfer([[b, a.device], [a, b.device]], this.#channel, {
      whileWaiting: () => (own = [partial(layers[0], a, 0), partial(layers[1], b, half)]),
    });
    const out: [Tensor, Tensor] = [
      joined(own[0], partial(layers[0], bOnA, half, true)),
      joined(own[1], partial(layers[1], aOnB, 0, true)),
    ];
    bOnA.dispose();
    aOnB.dispose();
    return out;
  }

  /** `layer` (on tower A's device) on both towers' activations joined, tower A's first. */
  async gatherInto(a: Tensor, b: Tensor, layer: Part): Promise<Tensor> {
    if (!splitsWhileWaiting(layer, a, b)) {
      const [bOnA] = await transfer([[b, a.device]], this.#channel);
      const out = whole(layer, [a, bOnA]);
      bOnA.dispose();
      return out;
    }
    let own = a;
    const [bOnA] = await transfer([[b, a.device]], this.#channel, {
      whileWaiting: () => (own = partial(layer, a, 0)),
    });
    const out = joined(own, partial(layer, bOnA, a.shape[1], true));
    bOnA.dispose();
    return out;
  }

  /** Frees the staging buffers. */
  dispose(): void {
    this.#channel.dispose();
  }
}

/** A layer that a cut feeds. */
export type Part = Conv2d | Linear;

/**
 * Whether the cut from `a`'s device to `b`'s runs `layer` as two partial products, the own
 * half's while the host waits: only across separate GPUDevices (a shared one has no wait to
 * fill) and only for a layer without an activation (see {@link TowerCut}: after a ReLU the
 * changed rounding can flip a unit's mask, and with it the unit's whole gradient).
 */
function splitsWhileWaiting(layer: Part, a: Tensor, b: Tensor): boolean {
  return !a.device.sharesGpuWith(b.device) && layer.activation === null;
}

/**
 * What `layer` makes of input channels (or features) `[from, from + C)` alone, `x` holding
 * them: the product with that slice of the weight, plus the bias if `withBias`, without the
 * activation. The layer's output is the activation of the sum over its inputs' slices.
 */
function partial(layer: Part, x: Tensor, from: number, withBias = false): Tensor {
  const weight = slice(layer.weight, 1, from, from + x.shape[1]);
  const bias = withBias ? layer.bias : null;
  let y: Tensor;
  if (layer instanceof Linear) y = linear(x, weight, bias);
  else if (layer.groups === 1) {
    y = conv2d(x, weight, bias, { stride: layer.stride, padding: layer.padding });
  } else {
    weight.dispose();
    throw new RangeError(`a cut cannot feed a grouped convolution (groups ${layer.groups})`);
  }
  weight.dispose();
  return y;
}

/** `layer` on `halves` joined along axis 1 (tower A's first), as one product. */
function whole(layer: Part, halves: readonly [Tensor, Tensor]): Tensor {
  const x = concat(halves, 1);
  const y = (layer as Layer).forward(x);
  x.dispose();
  return y;
}

/** `p + q`: a layer's output from its two partial products (it has no activation), freeing both. */
function joined(p: Tensor, q: Tensor): Tensor {
  const sum = add(p, q);
  p.dispose();
  q.dispose();
  return sum;
}

async function moved(y: Tensor, device: Tensor["device"]): Promise<Tensor> {
  const out = await y.to(device);
  y.dispose();
  return out;
}
