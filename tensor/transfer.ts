/**
 * Moving tensors between devices. Between two logical devices that share one GPUDevice (the
 * default for two devices of one adapter) a move is a copy on the GPU, recorded in program
 * order: no host wait. Separate GPUDevices share no memory, so there data crosses through the
 * host: a readback on the source, then a write on the destination straight from the mapped
 * range.
 *
 * Every host wait costs at least one turn of Deno's map polling loop (about 10 ms), so the unit
 * here is a *set* of moves: {@link transfer} moves several tensors, in any directions, with one
 * host wait, and its backward moves all their gradients back with one wait too. Data that starts
 * on the host is written to every device that needs it ({@link linkReplicas}), never copied
 * from one device to another. The rules are in `_rules/transfer.ts`.
 *
 * @module
 */

import { type Device, StagingBuffer } from "../kernels/device.ts";
import type { TransferState } from "./_rules/rule.ts";
import { linkReplicaData } from "./_rules/transfer.ts";
import { transferAll } from "./_primitives.ts";
import { checkOptions, optionNames } from "./options.ts";
import { apply, applyAsync, fromRaw, isRecording, rawOf, type Tensor } from "./tensor.ts";

/**
 * The staging buffers of one recurring transfer (a cut between a split model's towers), one per
 * direction, kept across steps so a step allocates no staging memory.
 *
 * @example
 * ```ts
 * import { Device, tensor } from "../mod.ts";
 * import { TransferChannel, transfer } from "./transfer.ts";
 * const [a, b] = await Device.acquireMany(2);
 * const channel = new TransferChannel("cut");
 * const [onB] = await transfer([[tensor([1, 2], { device: a }), b]], channel);
 * console.log(onB.device === b, await onB.toArray()); // true [1, 2]
 * channel.dispose();
 * ```
 */
export class TransferChannel {
  /** Names the channel's staging buffers in errors. */
  readonly label: string;
  #staging = new Map<string, StagingBuffer>();

  /** An empty channel; staging memory is allocated by the first transfer. */
  constructor(label = "transfer") {
    this.label = label;
  }

  /**
   * The staging buffer of the `nth` move from `source` to `target` of one transfer, once it is
   * free: the same one every step. Waiting for the previous transfer through it is what keeps
   * the host from running ahead of the GPU by more than one transfer per cut and direction.
   */
  async staging(source: Device, target: Device, nth: number): Promise<StagingBuffer> {
    const key = `${source.label}>${target.label}#${nth}`;
    let staging = this.#staging.get(key);
    if (staging?.device !== source) {
      staging?.destroy();
      staging = new StagingBuffer(source, `${this.label} ${source.label}→${target.label}`);
      this.#staging.set(key, staging);
    }
    await staging.ready();
    return staging;
  }

  /** Frees the staging memory. */
  dispose(): void {
    for (const staging of this.#staging.values()) staging.destroy();
    this.#staging.clear();
  }
}

/** Options of {@link transfer}. */
export interface TransferOptions {
  /**
   * Records work that reads none of the copies (a layer's part over its local inputs): it
   * runs on the devices while the host waits for the copies, instead of after them. In Deno
   * 2.9 every host wait leaves the devices idle for ~10 ms (its map polling sleeps) unless work
   * submitted after the maps fills that time; this is that work. Called once, synchronously,
   * before `transfer` resolves.
   */
  whileWaiting?: () => void;
}

const TRANSFER_OPTIONS = optionNames<TransferOptions>({ whileWaiting: true });

/**
 * Moves tensors between devices, `[tensor, destination]` each, in one host round trip (none
 * between devices that share one GPUDevice: a copy on the GPU), and returns the copies in order. As an autograd op it is one node: its backward runs once every
 * copy's gradient is known and returns them all in one round trip too.
 *
 * @example Two towers swap their activations
 * ```ts
 * import { Device, tensor, transfer } from "../mod.ts";
 * const [a, b] = await Device.acquireMany(2);
 * const x = tensor([1, 2], { device: a }), y = tensor([3, 4], { device: b });
 * const [yOnA, xOnB] = await transfer([[y, a], [x, b]]);
 * console.log(yOnA.device === a, await yOnA.toArray(), await xOnB.toArray()); // true [3, 4] [1, 2]
 * ```
 *
 * @example Work on local data runs while the copy waits
 * ```ts
 * import { Device, tensor, transfer } from "../mod.ts";
 * const [a, b] = await Device.acquireMany(2);
 * const x = tensor([1, 2], { device: a }), y = tensor([3, 4], { device: b });
 * let local = y;
 * const [xOnB] = await transfer([[x, b]], undefined, { whileWaiting: () => (local = y.mul(2)) });
 * console.log(await xOnB.add(local).toArray()); // [7, 10]
 * ```
 */
export async function transfer<const M extends readonly (readonly [Tensor, Device])[]>(
  moves: M,
  channel?: TransferChannel,
  options: TransferOptions = {},
): Promise<{ -readonly [K in keyof M]: M[K][0] }> {
  type Out = { -readonly [K in keyof M]: M[K][0] };
  checkOptions("transfer", options, TRANSFER_OPTIONS);
  const inputs = moves.map(([t]) => t);
  const staging = channel ? channel.staging.bind(channel) : undefined;
  const { whileWaiting } = options;
  if (!isRecording(inputs)) {
    const outs = await transferAll(moves.map(([t, d]) => [rawOf(t), d]), staging, whileWaiting);
    return outs.map((out) => fromRaw(out)) as Out;
  }
  const state: TransferState = {
    targets: moves.map(([, d]) => d),
    staging,
    whileWaiting,
    outs: [],
    grads: [],
  };
  const token = await applyAsync("transfer", inputs, { state });
  const outs = state.outs.map((_, index) => apply("transferOut", [token], { state, index }));
  token.dispose();
  return outs as unknown as Out;
}

/**
 * Declares tensors on different devices to hold the same data (written from the host to each,
 * or drawn from the same random stream on each), so that `.to()` between them returns the copy
 * already there instead of copying. `replicate` does this for host data.
 *
 * @example
 * ```ts
 * import { Device, Generator, linkReplicas } from "../mod.ts";
 * const [a, b] = await Device.acquireMany(2);
 * const g = new Generator(7), start = g.state();
 * const onA = g.normal([4], 0, 1, a);
 * g.setState(start);
 * const onB = g.normal([4], 0, 1, b);
 * linkReplicas([onA, onB]);
 * console.log((await onA.to(b)).device === b); // true, and no copy was made
 * ```
 */
export function linkReplicas(copies: readonly Tensor[]): void {
  linkReplicaData(copies.map(rawOf));
}
