/**
 * The `prepare` command: turns an image folder into training shards.
 *
 * @module
 */

import { isAbsolute, relative, resolve } from "node:path";
import { prepareImageFolder } from "../train/data/prepare.ts";
import { folderProblem } from "../train/data/_fs.ts";
import { plural } from "../train/_format.ts";
import { STOP_SIGNALS, stopOnSignals } from "./_signals.ts";
import { missingFolders, requireFolderPath } from "./_run_dir.ts";
import { type Command, defineCommand, number, str, UsageError, type Values } from "./_options.ts";

const PREPARE_HELP =
  `Prepares an image folder (one subfolder per class, JPEG/PNG) for training: each image's
shorter side is scaled to --size and the central square cut out (the paper's 256×256), written
as shards with the mean image and the RGB PCA of the training pixels. The pixels are those of
torchvision's ImageFolder loader with Resize(--size) and CenterCrop(--size): decoded as PIL
does (alpha dropped, 16-bit to 8), PIL's bilinear resize. As torchvision's ImageFolder, files
are taken by extension (.jpg .jpeg .png, and .bmp .tif .tiff .webp .ppm .pgm, which fail as
undecodable); others (notes.txt, Thumbs.db) are ignored, in one line.

  --input <dir>         The image folder. Required.
  --output <dir>        Where the shards go. Required.
  --size <px>           Output side (default 256).
  --shard-size <n>      Images per shard (default 1024).
  --skip-bad            Skip undecodable files (logged) instead of failing.
  --allow-empty-classes Keep an empty class folder as a class with no images (a warning);
                        by default it is an error.
  --no-stats            Skip the mean image and PCA (for a validation folder).
  -h, --help            This help.

Prepare the training and validation folders separately, then train with
  deno run -A cli.ts train --data <output-parent> (holding train/ and val/).

Ctrl-C, SIGTERM or SIGHUP stops it before the next image with status 130, 143 or 129
(128 + the signal's number), removing the output folder if this run created it.`;

async function runPrepare(values: Values): Promise<number> {
  const cmd = "prepare";
  const input = str(values, "input");
  const output = str(values, "output");
  if (!input) throw new UsageError("--input is required", cmd);
  if (!output) throw new UsageError("--output is required", cmd);
  const inputProblem = await folderProblem(input);
  if (inputProblem) throw new UsageError(`--input ${input}: ${inputProblem}`, cmd);
  // mkdir failed there, after the whole input was listed, with "File exists (os error 17)".
  await requireFolderPath(output, "--output", cmd);
  const inside = relative(await Deno.realPath(input), resolve(output));
  if (!inside.startsWith("..") && !isAbsolute(inside)) {
    // The shards would be listed as a class of bad images by the next prepare of this folder.
    throw new UsageError(
      `--output ${output} is inside --input ${input}: choose a folder outside the images`,
      cmd,
    );
  }
  const size = number(values, "size", cmd, { integer: true, min: 8, max: 4096 }) ?? 256;
  const shardSize = number(values, "shard-size", cmd, { integer: true, min: 1 }) ?? 1024;
  let last = 0;
  // A signal stops it before the next image. On a signal or a failure (a full disk, a bad
  // image), an output folder this run made is removed: no shards without a manifest remain.
  using stop = stopOnSignals();
  const [outermost] = await missingFolders(output);
  const preparing = prepareImageFolder({
    input,
    output,
    size,
    shardSize,
    skipBad: values["skip-bad"] === true,
    allowEmptyClasses: values["allow-empty-classes"] === true,
    stats: values["no-stats"] !== true,
    onProgress: (done, total) => {
      const now = performance.now();
      if (done === total || now - last > 2000) {
        console.log(`prepared ${done}/${total}`);
        last = now;
      }
    },
    signal: stop.signal,
  });
  let manifest;
  try {
    manifest = await preparing;
  } catch (error) {
    if (outermost) await Deno.remove(outermost, { recursive: true }).catch(() => {});
    if (stop.received === null) {
      if (outermost && error instanceof Error) error.message += ` (${output} removed)`;
      throw error;
    }
    console.log(
      `${stop.received}: prepare stopped; ` +
        (outermost ? `${output} removed` : `${output} is incomplete (no manifest): run it again`),
    );
    return STOP_SIGNALS[stop.received];
  }
  console.log(
    `wrote ${plural(manifest.count, "image")} (${
      plural(manifest.classNames.length, "class", "classes")
    }) ` +
      `in ${plural(manifest.shards.length, "shard")} to ${output}; skipped ${manifest.skipped}`,
  );
  return 0;
}

/** The `prepare` command. */
export const prepareCommand: Command = defineCommand({
  summary: "turn an image folder into training shards",
  usage: "prepare --input <dir> --output <dir> [options]",
  strings: "input output size shard-size",
  flags: "skip-bad allow-empty-classes no-stats",
  help: PREPARE_HELP,
  run: runPrepare,
});
