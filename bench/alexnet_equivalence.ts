/**
 * The full paper AlexNet (60,965,224 parameters, 227×227 inputs) placed on one device and split
 * over two: the same weights, the same batch and the same dropout masks must give the same
 * logits and the same gradient for every parameter (compared in the state-dict layout, the
 * towers' halves joined). Prints the largest relative differences and the time of each
 * placement's forward + backward.
 *
 *     deno run -A bench/alexnet_equivalence.ts [--batch 2] [--eval] [--separate-devices]
 *
 * `--eval` turns dropout off; by default both nets train, drawing identical masks.
 * `--separate-devices` gives the two logical devices a GPUDevice each, so that every exchange
 * crosses through the host as it does between two physical GPUs.
 *
 * @module
 */

import { crossEntropy, Device, fromTypedArray, Generator } from "../mod.ts";
import { AlexNet, type Module } from "../nn/mod.ts";

const args = Deno.args;
const batch = Number(args[args.indexOf("--batch") + 1] ?? 2) || 2;
const evalMode = args.includes("--eval");
const separateDevices = args.includes("--separate-devices");

/** max|a − e| / max|e| over a whole tensor. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  let err = 0, ref = 0;
  for (let i = 0; i < expected.length; i++) {
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
    ref = Math.max(ref, Math.abs(expected[i]));
  }
  return err / Math.max(ref, 1e-30);
}

/** Every logical parameter's gradient on the host, the towers' parts joined along axis 0. */
async function gradients(model: Module): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const slot of model.stateSlots()) {
    const size = slot.shards.reduce((n, s) => n + s.size, 0);
    const joined = new Float32Array(size);
    let at = 0;
    for (const shard of slot.shards) {
      if (!shard.grad) throw new Error(`${slot.name}: no gradient`);
      joined.set(await shard.grad.data() as Float32Array, at);
      at += shard.size;
    }
    out.set(slot.name, joined);
  }
  return out;
}

const log = (message: string): void =>
  console.log(`[${(performance.now() / 1000).toFixed(1)} s] ${message}`);

const [gpu0, gpu1] = await Device.acquireMany(2, { separateDevices });
log(
  `devices: ${gpu0.describe()}, ${gpu1.describe()}; batch ${batch}, ${evalMode ? "eval" : "train"}${
    separateDevices ? ", separate GPUDevices" : ""
  }`,
);

const one = new AlexNet({ seed: 0 }, gpu0);
const two = new AlexNet({ seed: 0 }, [gpu0, gpu1]);
// The same seed already gives the same weights; load them anyway, as a user would.
const state = await one.stateDict();
await two.loadStateDict(state);
for (const t of Object.values(state)) t.dispose();
if (evalMode) {
  one.eval();
  two.eval();
}
log(`built both nets (${one.parameterCount().toLocaleString("en-US")} parameters each)`);

const images = new Generator(123).normal([batch, 3, 227, 227], 0, 1, gpu0).withRank(4);
const labels = fromTypedArray(
  Int32Array.from({ length: batch }, (_, i) => (i * 389) % 1000),
  [batch],
  { device: gpu0 },
);

async function step(model: AlexNet): Promise<{ logits: Float32Array; seconds: number }> {
  const start = performance.now();
  const logits = await model.forward(images);
  const loss = crossEntropy(logits, labels);
  await loss.backward();
  const values = await logits.data() as Float32Array;
  for (const device of model.devices()) await device.sync();
  const seconds = (performance.now() - start) / 1000;
  logits.dispose();
  loss.dispose();
  return { logits: values, seconds };
}

const a = await step(one);
log(`one device:  forward + backward ${a.seconds.toFixed(1)} s`);
const b = await step(two);
log(`two devices: forward + backward ${b.seconds.toFixed(1)} s`);

const ga = await gradients(one), gb = await gradients(two);
const logitError = relativeError(b.logits, a.logits);
let worst = { name: "", error: 0 };
for (const [name, g] of ga) {
  const error = relativeError(gb.get(name)!, g);
  console.log(`  ${name.padEnd(13)} gradient max rel. diff ${error.toExponential(2)}`);
  if (error >= worst.error) worst = { name, error };
}
console.log(`logits: max relative difference ${logitError.toExponential(2)}`);
console.log(`gradients: max relative difference ${worst.error.toExponential(2)} (${worst.name})`);
console.log(`time: one device ${a.seconds.toFixed(1)} s, two devices ${b.seconds.toFixed(1)} s`);
const ok = logitError < 1e-5 && worst.error < 1e-5;
console.log(ok ? "EQUIVALENT within 1e-5" : "NOT equivalent within 1e-5");
Deno.exit(ok ? 0 : 1);
