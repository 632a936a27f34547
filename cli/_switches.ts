/**
 * The model switches on the command line (`train`, `summary`): the paper's ablations, one
 * option each.
 *
 * @module
 */

import { ACTIVATIONS } from "../nn/activation.ts";
import { PAPER_SWITCHES } from "../nn/alexnet.ts";
import type { ArmSwitches } from "../train/experiment/claims.ts";
import { choice, number, str, UsageError, type Values } from "./_options.ts";
import { isResNet, isZooModel, type ZooModelName } from "./_zoo.ts";

/** The switches' option names, separated by spaces (each takes a value). */
export const SWITCH_NAMES = "activation lrn pooling dropout towers";

/**
 * The switches' help lines for `command`: `summary` shows what each switch changes in its own
 * layer table; another command points to it.
 */
export function switchHelp(command: string): string {
  const heading = command === "summary"
    ? `the 'changed:' lines above the table say what\neach switch given changes`
    : `'deno run -A cli.ts summary' with the same\nswitches shows what they change in the layer table`;
  return `Switches (the defaults are the paper's; ${heading}):
  --activation <name>   Nonlinearity after every layer but the last (default relu; tanh is
                        the paper's comparison): ${ACTIVATIONS.join("|")}.
  --lrn on|off          Local response normalisation after conv1 and conv2 (default on;
                        the figure1 model: off).
  --pooling <k>/<s>     Max-pooling window and stride (default 3/2, overlapping; 2/2 is
                        the paper's non-overlapping comparison).
  --dropout <p>         Drop probability in fc6 and fc7 (default 0.5; 0 turns it off).
  --towers 1|2          Two towers (default), or one with half the kernels in conv1–conv4
                        (the paper's one-GPU comparison net; one device only).`;
}

/** The switches given on the command line (absent ones stay undefined: the model's default). */
export function parseSwitches(values: Values, command: string): ArmSwitches {
  const out: ArmSwitches = {};
  const activation = choice(values, "activation", command, ACTIVATIONS);
  if (activation !== undefined) out.activation = activation;
  const lrn = choice(values, "lrn", command, ["on", "off"] as const);
  if (lrn !== undefined) out.lrn = lrn === "on";
  const pooling = str(values, "pooling");
  if (pooling !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(pooling.trim());
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
      throw new UsageError(
        `--pooling must be <window>/<stride> (e.g. ${PAPER_SWITCHES.pooling.kernelSize}/` +
          `${PAPER_SWITCHES.pooling.stride} or 2/2), got '${pooling}'`,
        command,
      );
    }
    out.pooling = { kernelSize: Number(m[1]), stride: Number(m[2]) };
  }
  const dropout = number(values, "dropout", command, { min: 0, below: 1 });
  if (dropout !== undefined) out.dropout = dropout;
  const towers = number(values, "towers", command, { integer: true, min: 1, max: 2 });
  if (towers !== undefined) out.towers = towers as 1 | 2;
  return out;
}

/**
 * The switches of a `train` or `summary` command line, checked against the model and the
 * device count: the Figure 1 net has no dropout or towers and runs on one device; a one-tower
 * AlexNet runs on one device; a torchvision architecture takes none of AlexNet's switches but
 * a VGG's dropout, and runs on one device.
 */
export function modelSwitches(
  values: Values,
  command: string,
  preset: "small" | "full" | "figure1" | ZooModelName,
  devices: number,
): ArmSwitches {
  const switches = parseSwitches(values, command);
  if (isZooModel(preset)) {
    for (const key of ["activation", "lrn", "pooling", "towers", "dropout"] as const) {
      if (switches[key] === undefined || (key === "dropout" && !isResNet(preset))) continue;
      const why = key === "dropout" ? "a ResNet has no dropout" : "an AlexNet switch";
      throw new UsageError(`--${key} does not apply to ${preset} (${why})`, command);
    }
    if (devices !== 1) {
      throw new UsageError(`${preset} has no towers: it runs on one device (--devices 1)`, command);
    }
  }
  if (preset === "figure1") {
    for (const key of ["dropout", "towers"] as const) {
      if (switches[key] !== undefined) {
        throw new UsageError(`--${key} does not apply to the figure1 model`, command);
      }
    }
    if (devices !== 1) throw new UsageError("the figure1 model runs on one device", command);
  }
  if (switches.towers === 1 && devices === 2) {
    throw new UsageError("--towers 1 is the one-device comparison net: use --devices 1", command);
  }
  return switches;
}
