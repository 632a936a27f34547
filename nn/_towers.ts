/**
 * A layer split along its output channels into towers on different devices (the AlexNet
 * paper's two GPUs). Each tower is an ordinary layer named `"0"`, `"1"`, … (so physical
 * parameters are `conv2.0.weight`, `conv2.1.weight`); the state dict sees one parameter per
 * name, the towers' parts stacked along axis 0, exactly the weight of the same layer on one
 * device.
 *
 * @module
 */

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
