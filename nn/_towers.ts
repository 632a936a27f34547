/**
 * A layer split along its output channels into towers on different devices (the AlexNet
 * paper's two GPUs). Each tower is an ordinary layer named `"0"`, `"1"`, … (so physical
 * parameters are `conv2.0.weight`, `conv2.1.weight`); the state dict sees one parameter per
 * name, the towers' parts stacked along axis 0, exactly the weight of the same layer on one
 * device.
 *
 * @module
 */

import { concat } from "../tensor/ops_shape.ts";
import type { Tensor } from "../tensor/tensor.ts";
import { transfer, TransferChannel } from "../tensor/transfer.ts";
import { Module, type ParameterSlot } from "./module.ts";

/** Parts of one layer, tower by tower. */
export class Towers<M extends Module> extends Module {
  /** The towers' layers, in output-channel order. */
  readonly parts: readonly M[];

  /** Wraps the towers' layers; they must have the same parameter names. */
  constructor(parts: readonly M[]) {
    super();
    this.parts = parts.map((part, i) => this.registerModule(String(i), part));
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
    return names.map((name, i) => ({
      name,
      shards: perTower.flatMap((slots) => slots[i].shards),
    }));
  }
}

/**
 * A cut where the towers exchange activations (the paper's GPUs talk only at such cuts). It
 * keeps the cut's staging buffers across steps, and moves both directions in one host round
 * trip, forward and backward alike.
 */
export class TowerCut {
  readonly #channel: TransferChannel;

  /** A cut named `name` (for errors). */
  constructor(name: string) {
    this.#channel = new TransferChannel(name);
  }

  /**
   * Each tower's activations joined with the other's along `axis` (tower A's first): the input
   * of a layer whose towers read both halves.
   */
  async swap(a: Tensor, b: Tensor, axis: number): Promise<[Tensor, Tensor]> {
    const [bOnA, aOnB] = await transfer([[b, a.device], [a, b.device]], this.#channel);
    const joined: [Tensor, Tensor] = [concat([a, bOnA], axis), concat([aOnB, b], axis)];
    bOnA.dispose();
    aOnB.dispose();
    return joined;
  }

  /** Both towers' activations joined along `axis` on tower A's device. */
  async gather(a: Tensor, b: Tensor, axis: number): Promise<Tensor> {
    const [bOnA] = await transfer([[b, a.device]], this.#channel);
    const joined = concat([a, bOnA], axis);
    bOnA.dispose();
    return joined;
  }

  /** Frees the staging buffers. */
  dispose(): void {
    this.#channel.dispose();
  }
}

async function moved(y: Tensor, device: Tensor["device"]): Promise<Tensor> {
  const out = await y.to(device);
  y.dispose();
  return out;
}
