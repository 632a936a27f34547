/**
 * Copies between devices. WebGPU devices share no memory, so data crosses through the host: a
 * readback on the source, then a write on the destination straight from the mapped range.
 *
 * Every host wait costs at least one turn of Deno's map polling loop (about 10 ms), so the unit
 * here is a *set* of moves: {@link transfer} moves several tensors, in any directions, with one
 * host wait, and its backward moves all their gradients back with one wait too. Data that starts
 * on the host is written to every device that needs it ({@link linkReplicas}), never copied
 * from one device to another.
 *
 * @module
 */

import { Device, StagingBuffer } from "../kernels/device.ts";
import { isGradEnabled, recordOp } from "./_autograd.ts";
import type { DType, Shape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";
import { empty } from "./ops_elementwise.ts";
import { contiguous } from "./ops_shape.ts";

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

/**
 * Copies each source to its target device with one host wait (no autograd). Resolves once the
 * copies are under way: their data arrives in the background, and work recorded on them waits
 * for it.
 */
async function move(
  moves: readonly (readonly [Tensor, Device])[],
  channel?: TransferChannel,
): Promise<Tensor[]> {
  const directions = new Map<string, number>();
  const staging = await Promise.all(moves.map(([t, target]) => {
    const direction = `${t.device.label}>${target.label}`;
    const nth = directions.get(direction) ?? 0;
    directions.set(direction, nth + 1);
    return channel?.staging(t.device, target, nth);
  }));
  const sources = moves.map(([t]) => contiguous(t));
  const outs = moves.map(([t, target]) => empty(target, t.shape, t.dtype, "transfer"));
  try {
    const done = Device.copyAcross(sources.map((source, i) => ({
      source: source.storage.buffer,
      target: outs[i].storage.buffer,
      bytes: source.size * 4,
      staging: staging[i],
    })));
    // A failure stops the devices involved; their next read or sync raises it.
    done.catch(() => {});
  } catch (error) {
    for (const out of outs) out.dispose();
    throw error;
  } finally {
    sources.forEach((s, i) => s !== moves[i][0] && s.dispose());
  }
  return outs;
}

/**
 * Moves tensors between devices, `[tensor, destination]` each, in one host round trip, and
 * returns the copies in order. As an autograd op it is one node: its backward runs once every
 * copy's gradient is known and returns them all in one round trip too.
 *
 * @example Two towers swap their activations
 * ```ts
 * import { Device, tensor } from "../mod.ts";
 * import { transfer } from "./transfer.ts";
 * const [a, b] = await Device.acquireMany(2);
 * const x = tensor([1, 2], { device: a }), y = tensor([3, 4], { device: b });
 * const [yOnA, xOnB] = await transfer([[y, a], [x, b]]);
 * console.log(yOnA.device === a, await yOnA.toArray(), await xOnB.toArray()); // true [3, 4] [1, 2]
 * ```
 */
export async function transfer<const M extends readonly (readonly [Tensor, Device])[]>(
  moves: M,
  channel?: TransferChannel,
): Promise<{ -readonly [K in keyof M]: M[K][0] }> {
  const outs = await move(moves, channel);
  const inputs = moves.map(([t]) => t);
  if (!isGradEnabled() || !inputs.some((t) => t.requiresGrad)) {
    return outs as { -readonly [K in keyof M]: M[K][0] };
  }
  // A node belongs to one output, yet the copies' gradients must travel together. A token
  // stands for the whole transfer: each copy's node hands its gradient over and gives the token
  // a (dummy) gradient, so the token's node runs after all of them and moves every gradient back.
  // Only the token's node matters: its data is freed at once.
  const grads: (Tensor | null)[] = outs.map(() => null);
  const token = empty(inputs[0].device, [1], "f32", "transfer token");
  recordOp(token, "transfer", inputs, [], () => async () => {
    const pending = grads.flatMap((g, i) => (g ? [i] : []));
    try {
      const back = await move(pending.map((i) => [grads[i]!, inputs[i].device]), channel);
      return inputs.map((_, i) => back[pending.indexOf(i)] ?? null);
    } finally {
      for (const g of grads) g?.dispose();
      grads.fill(null);
    }
  });
  token.dispose();
  return outs.map((out, i) =>
    recordOp(out, "transfer", [token], [], () => (g) => {
      grads[i]?.dispose();
      grads[i] = g.alias();
      return [empty(token.device, [1], "f32", "transfer token")];
    })
  ) as { -readonly [K in keyof M]: M[K][0] };
}

const replicas = new WeakMap<Tensor, readonly Tensor[]>();

/**
 * Declares tensors on different devices to hold the same data (written from the host to each,
 * or drawn from the same random stream on each), so that `.to()` between them returns the copy
 * already there instead of copying. `replicate` does this for host data.
 *
 * @example
 * ```ts
 * import { Device, Generator } from "../mod.ts";
 * import { linkReplicas } from "./transfer.ts";
 * const [a, b] = await Device.acquireMany(2);
 * const g = new Generator(7), start = g.state();
 * const onA = g.normal([4], 0, 1, a);
 * g.setState(start);
 * const onB = g.normal([4], 0, 1, b);
 * linkReplicas([onA, onB]);
 * console.log((await onA.to(b)).storage === onB.storage); // true
 * ```
 */
export function linkReplicas(copies: readonly Tensor[]): void {
  for (const copy of copies) replicas.set(copy, copies);
}

/**
 * `t` on `device`: the same data when already there, the linked replica when there is one,
 * otherwise a copy through the host.
 */
export async function copyToDevice<S extends Shape, D extends DType>(
  t: Tensor<S, D>,
  device: Device,
): Promise<Tensor<S, D>> {
  const here = t.device === device ? t : t.requiresGrad
    ? undefined // a replica is a separate leaf: the gradient must flow back to `t`
    : replicas.get(t)?.find((r) => r.device === device);
  if (here && !here.disposed) {
    return recordOp(here.alias(), "to", [t], [], () => (g) => [g.alias()]) as Tensor<S, D>;
  }
  return (await transfer([[t, device]] as const))[0];
}
