/**
 * `deno task bench --profile` (or this file run directly): one real training step of AlexNet
 * timed kernel by kernel with `timestamp-query` (see train/profile.ts): one row per dispatch
 * (name with shape, variant, ms, TFLOP/s or GB/s), the rows by kernel and variant, and their sum
 * beside the GPU span and the wall time of the step.
 *
 *     deno run -A bench/profile.ts [--model full|small] [--batch N] [--no-autotune] [--out f.json]
 *
 * With tuning on (the default on GPUs; see kernels/autotune.ts), the first step's shapes are
 * tuned before profiling, so the profiled step runs the choices, which are printed.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { crossEntropy, Device, fromTypedArray, Generator, tidy } from "../mod.ts";
import { AlexNet, alexnetSmall } from "../nn/mod.ts";
import { SGD } from "../train/sgd.ts";
import { setAutotune } from "../kernels/autotune.ts";
import { formatProfile, profileTrainingStep } from "../train/profile.ts";

/** The command-line flags both `bench/profile.ts` and `deno task bench --profile` take. */
export function profileOptions(values: {
  model?: string;
  batch?: string;
  "no-autotune"?: boolean;
  out?: string;
}): ProfileOptions {
  return {
    model: values.model,
    batch: values.batch === undefined ? undefined : Number(values.batch),
    autotune: values["no-autotune"] ? false : undefined,
    out: values.out,
  };
}

/** Options of {@link profileStep}. */
export interface ProfileOptions {
  /** `full` (the paper's net) or `small` (the scaled one); default by adapter. */
  model?: string;
  /** Default 128 for the full net, 32 for the small one. */
  batch?: number;
  /** Tune the first step's shapes before profiling (default: as kernels/autotune.ts says). */
  autotune?: boolean;
  /** Write the profile as JSON here. */
  out?: string;
}

/** Profiles one training step of AlexNet and prints the tables. */
export async function profileStep(options: ProfileOptions = {}): Promise<void> {
  if (options.autotune === false) setAutotune(false);
  const device = await Device.acquire();
  const kind = options.model ?? (device.isSoftware ? "small" : "full");
  if (kind !== "small" && kind !== "full") throw new Error("--model must be small or full");
  const batch = options.batch ?? (kind === "small" ? 32 : 128);
  if (!Number.isInteger(batch) || batch < 1) throw new Error("--batch must be a positive integer");
  const size = kind === "small" ? 32 : 227;
  const model = kind === "small"
    ? alexnetSmall({ seed: 0 }, device)
    : new AlexNet({ seed: 0 }, device);
  model.train();
  const sgd = new SGD({ params: model.parameters(), lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const classes = model.config.numClasses;
  const labels = fromTypedArray(
    Int32Array.from({ length: batch }, (_, i) => (i * 7919) % classes),
    [batch],
    { device },
  );
  const images = new Generator(1).normal([batch, 3, size, size], 0, 1, device).withRank(4);
  const step = async (): Promise<void> => {
    const loss = await tidy(async () => crossEntropy(await model.forward(images), labels));
    await loss.backward();
    sgd.step();
    sgd.zeroGrad();
    loss.dispose();
  };
  console.log(`profile: ${kind} AlexNet, batch ${batch}, ${device.describe()}`);
  const profile = await profileTrainingStep(device, step);
  console.log(formatProfile(profile));
  if (options.out) {
    const record = { model: kind, batch, adapter: device.describe(), ...profile };
    await Deno.writeTextFile(options.out, JSON.stringify(record, null, 1) + "\n");
  }
  device.destroy();
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string" },
      batch: { type: "string" },
      "no-autotune": { type: "boolean", default: false },
      out: { type: "string" },
    },
    strict: true,
  });
  await profileStep(profileOptions(values));
  Deno.exit(0);
}
