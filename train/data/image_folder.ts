/**
 * Image folders: one subfolder per class holding JPEG and PNG files, at any depth under it (the
 * ImageNet / torchvision `ImageFolder` layout). Decoding uses the pure-JS npm packages `jpeg-js`
 * and `fast-png`, imported dynamically on first decode so that nothing else pays for them.
 *
 * - Files are listed by extension, as torchvision's `ImageFolder` does ({@link IMAGE_EXTENSIONS}):
 *   a `notes.txt` or `Thumbs.db` in a class folder is ignored (and reported once), not a bad image.
 * - The decoder is chosen by the file's magic bytes, never by its extension.
 * - A JPEG's EXIF orientation is not applied: the pixels are used as stored, as torchvision's
 *   default loader (PIL's `Image.open(...).convert("RGB")`) uses them.
 * - Greyscale, grey+alpha, palette, 16-bit, RGBA PNGs and greyscale, YCbCr, Adobe CMYK/YCCK
 *   JPEGs all become 8-bit RGB, with the bytes of torchvision's default loader (PIL's
 *   `convert("RGB")`): alpha is dropped and the stored colour kept (`alpha: "white"` or
 *   `"black"` composites over that background instead); 16-bit colour keeps each sample's high
 *   byte, and 16-bit greyscale clips at 255 (PIL opens it as integers and clips them, so a
 *   16-bit grey scan that uses the whole range is mostly white: rescale such data beforehand).
 *   A YCbCr JPEG's subsampled chroma is upsampled and converted as libjpeg-turbo (PIL's
 *   decoder) does, so its pixels are PIL's within the inverse DCT's rounding (3 levels at most).
 * - Width × height is checked against `maxPixels` (default 50 M) from the header, before any
 *   pixel is decoded, against decompression bombs.
 * - A bad file throws an Error whose message starts with the file's path; with
 *   `skipBad: true` it is logged, counted and skipped instead.
 *
 * @module
 */

import { checkOptions, optionNames } from "../../tensor/options.ts";
import { ArrayDataset } from "./array_dataset.ts";
import {
  type AlphaMode,
  DECODE_OPTIONS,
  decodeImageBytes,
  type DecodeOptions,
  type RgbImage,
} from "./_decode.ts";
import { shorterSideCenterCrop } from "./_resize.ts";

export type { AlphaMode, DecodeOptions, RgbImage };

/**
 * Decodes PNG or JPEG bytes to RGB (HWC, u8), choosing the decoder by magic bytes. Errors
 * name `name`.
 *
 * @example
 * ```ts
 * import { encode } from "npm:fast-png@8.0.0";
 * import { decodeImage } from "./image_folder.ts";
 * const png = encode({ width: 2, height: 1, data: new Uint8Array([255, 0, 0, 0, 0, 255]), channels: 3 });
 * const img = await decodeImage(png, "two.png");
 * console.log(img.width, img.height, img.pixels); // 2 1 Uint8Array [255, 0, 0, 0, 0, 255]
 * ```
 */
export function decodeImage(
  bytes: Uint8Array,
  name: string,
  options: DecodeOptions = {},
): Promise<RgbImage> {
  checkOptions("decodeImage", options, DECODE_OPTIONS);
  return decodeImageBytes(bytes, name, options);
}

/**
 * The extensions listed as images by default: torchvision's `IMG_EXTENSIONS`. PNG and JPEG are
 * decoded; a BMP, TIFF, WebP or PPM/PGM file is listed so that it fails (or is skipped with
 * `skipBad`) by name rather than vanish from the data.
 *
 * @example
 * ```ts
 * import { IMAGE_EXTENSIONS } from "./image_folder.ts";
 * console.log(IMAGE_EXTENSIONS.includes(".jpeg"), IMAGE_EXTENSIONS.includes(".txt")); // true false
 * ```
 */
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze([
  ".jpg",
  ".jpeg",
  ".png",
  ".ppm",
  ".bmp",
  ".pgm",
  ".tif",
  ".tiff",
  ".webp",
]);

/** One file of an image folder. */
export interface ImageFile {
  /** The file's path. */
  path: string;
  /** Its class index (the subfolder's position in `classNames`). */
  label: number;
}

/** Options of {@link ImageFolder.open}. */
export interface ImageFolderOptions extends DecodeOptions {
  /** Skip (log and count) undecodable files instead of throwing. Default false. */
  skipBad?: boolean;
  /**
   * List the files with these extensions (case-insensitive, with the dot), or `"all"` files;
   * default {@link IMAGE_EXTENSIONS}. Other files are ignored, and reported in one line.
   */
  extensions?: readonly string[] | "all";
  /** Where skip messages and warnings go; default `console.warn`. */
  log?: (message: string) => void;
  /**
   * Keep a class folder with no files as a class with no images, with a warning. Default
   * false: an empty class folder is an error (it would add an output the model never sees).
   */
  allowEmptyClasses?: boolean;
}

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

async function isDir(path: string, entry: Deno.DirEntry): Promise<boolean> {
  if (entry.isDirectory) return true;
  return entry.isSymlink ? (await Deno.stat(path)).isDirectory : false;
}

async function isFile(path: string, entry: Deno.DirEntry): Promise<boolean> {
  if (entry.isFile) return true;
  return entry.isSymlink ? (await Deno.stat(path)).isFile : false;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The files under a folder: those listed, and those ignored for their extension. */
interface Listing {
  /** Paths relative to the folder. */
  names: string[];
  /** Paths relative to the folder of the files whose extension is not listed. */
  ignored: string[];
}

/**
 * The files under `dir` at any depth, as paths relative to it (hidden names skipped), as
 * torchvision's `ImageFolder` walks a class folder: images one folder down are not lost.
 * `seen` holds the real paths walked (and the image folder's), so a symlink back up the tree
 * is not walked again.
 */
async function filesUnder(
  dir: string,
  exts: readonly string[] | null,
  seen: Set<string>,
): Promise<Listing> {
  const out: Listing = { names: [], ignored: [] };
  const real = await Deno.realPath(dir);
  if (seen.has(real)) return out;
  seen.add(real);
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".")) continue;
    const path = join(dir, e.name);
    if (await isDir(path, e)) {
      const below = await filesUnder(path, exts, seen);
      out.names.push(...below.names.map((n) => `${e.name}/${n}`));
      out.ignored.push(...below.ignored.map((n) => `${e.name}/${n}`));
    } else if (await isFile(path, e)) {
      const listed = !exts || exts.some((x) => e.name.toLowerCase().endsWith(x));
      (listed ? out.names : out.ignored).push(e.name);
    }
  }
  return out;
}

/**
 * A listing of an image folder (classes are the sorted subfolder names; files, at any depth
 * under their class folder, are sorted by path within each class; names starting with "." are
 * ignored) that decodes files on demand.
 *
 * @example
 * ```ts
 * import { ImageFolder } from "./image_folder.ts";
 * import { encode } from "npm:fast-png@8.0.0";
 * const dir = await Deno.makeTempDir();
 * for (const [name, rgb] of [["blue", [0, 0, 255]], ["red", [255, 0, 0]]] as const) {
 *   await Deno.mkdir(`${dir}/${name}`);
 *   const data = new Uint8Array(Array.from({ length: 16 }, () => rgb).flat());
 *   await Deno.writeFile(`${dir}/${name}/a.png`, encode({ width: 4, height: 4, data, channels: 3 }));
 * }
 * await Deno.writeTextFile(`${dir}/red/broken.png`, "not a PNG");
 * const folder = await ImageFolder.open(dir, { skipBad: true });
 * for (let i = 0; i < folder.files.length; i++) {
 *   const img = await folder.read(i); // null when skipped
 * }
 * console.log(folder.skipped, folder.skippedFiles); // 1 [".../red/broken.png"]
 * ```
 */
export class ImageFolder {
  /** The folder. */
  readonly dir: string;
  /** Class names: the subfolders, sorted. */
  readonly classNames: readonly string[];
  /** Every image file, in class then name order. */
  readonly files: readonly ImageFile[];
  /** Paths of the files left out for their extension (see `extensions`), in class order. */
  readonly ignoredFiles: readonly string[];
  /** Paths of the files skipped so far (only with `skipBad`). */
  readonly skippedFiles: string[] = [];
  readonly #options: ImageFolderOptions;

  private constructor(
    dir: string,
    classNames: string[],
    files: ImageFile[],
    ignoredFiles: string[],
    options: ImageFolderOptions,
  ) {
    this.dir = dir;
    this.classNames = Object.freeze(classNames);
    this.files = Object.freeze(files);
    this.ignoredFiles = Object.freeze(ignoredFiles);
    this.#options = options;
  }

  /** Number of files skipped so far. */
  get skipped(): number {
    return this.skippedFiles.length;
  }

  /**
   * Lists `dir`: one class per subfolder.
   *
   * @example
   * ```ts
   * import { ImageFolder } from "./image_folder.ts";
   * import { encode } from "npm:fast-png@8.0.0";
   * const dir = await Deno.makeTempDir();
   * for (const [name, rgb] of [["blue", [0, 0, 255]], ["red", [255, 0, 0]]] as const) {
   *   await Deno.mkdir(`${dir}/${name}`);
   *   const data = new Uint8Array(Array.from({ length: 16 }, () => rgb).flat());
   *   await Deno.writeFile(`${dir}/${name}/a.png`, encode({ width: 4, height: 4, data, channels: 3 }));
   * }
   * const folder = await ImageFolder.open(dir);
   * console.log(folder.classNames, folder.files.length); // ["blue", "red"] 2
   * ```
   */
  static async open(dir: string, options: ImageFolderOptions = {}): Promise<ImageFolder> {
    const classNames: string[] = [];
    for await (const e of Deno.readDir(dir)) {
      if (!e.name.startsWith(".") && await isDir(join(dir, e.name), e)) classNames.push(e.name);
    }
    classNames.sort(byName);
    if (classNames.length === 0) throw new Error(`${dir}: no class subfolders found`);
    const extensions = options.extensions ?? IMAGE_EXTENSIONS;
    const exts = extensions === "all" ? null : extensions.map((x) => x.toLowerCase());
    const root = await Deno.realPath(dir);
    const files: ImageFile[] = [], ignored: string[] = [];
    for (let label = 0; label < classNames.length; label++) {
      const cdir = join(dir, classNames[label]);
      const { names, ignored: left } = await filesUnder(cdir, exts, new Set([root]));
      names.sort(byName);
      ignored.push(...left.sort(byName).map((n) => join(cdir, n)));
      if (names.length === 0) emptyClass(cdir, label, options, left);
      for (const n of names) files.push({ path: join(cdir, n), label });
    }
    if (ignored.length > 0) {
      const shown = ignored.slice(0, 3).map((p) => p.slice(join(dir, "").length));
      (options.log ?? console.warn)(
        `ignoring ${ignored.length} ${ignored.length === 1 ? "file" : "files"} whose extension ` +
          `is not an image's (${shown.join(", ")}${ignored.length > 3 ? ", …" : ""})`,
      );
    }
    return new ImageFolder(dir, classNames, files, ignored, options);
  }

  /**
   * Reads and decodes file `index`. Returns null if the file is bad and `skipBad` is set
   * (it is then logged and added to `skippedFiles`); otherwise a bad file throws.
   *
   * @example
   * ```ts
   * import { ImageFolder } from "./image_folder.ts";
   * import { encode } from "npm:fast-png@8.0.0";
   * const dir = await Deno.makeTempDir();
   * for (const [name, rgb] of [["blue", [0, 0, 255]], ["red", [255, 0, 0]]] as const) {
   *   await Deno.mkdir(`${dir}/${name}`);
   *   const data = new Uint8Array(Array.from({ length: 16 }, () => rgb).flat());
   *   await Deno.writeFile(`${dir}/${name}/a.png`, encode({ width: 4, height: 4, data, channels: 3 }));
   * }
   * const folder = await ImageFolder.open(dir);
   * const first = await folder.read(0);
   * console.log(first?.pixels.subarray(0, 3)); // Uint8Array [0, 0, 255]: blue
   * ```
   */
  async read(index: number): Promise<RgbImage | null> {
    const file = this.files[index];
    if (!file) throw new RangeError(`ImageFolder.read: index ${index} out of range`);
    try {
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(file.path);
      } catch (e) {
        throw new Error(`${file.path}: cannot read: ${(e as Error).message}`, { cause: e });
      }
      return await decodeImageBytes(bytes, file.path, this.#options);
    } catch (e) {
      if (!this.#options.skipBad) throw e;
      this.skippedFiles.push(file.path);
      (this.#options.log ?? console.warn)(`skipping bad image ${(e as Error).message}`);
      return null;
    }
  }
}

/**
 * Reports class `label` (folder `cdir`) as empty: an error, or with `allowEmptyClasses` a
 * warning. Also used when every file of a class was skipped as bad. `ignored` names the files
 * it holds that are not images by their extension.
 */
export function emptyClass(
  cdir: string,
  label: number,
  options: ImageFolderOptions,
  ignored: readonly string[] = [],
): void {
  const holds = ignored.length === 0
    ? ""
    : `, only files that are not images by their extension (${ignored.slice(0, 3).join(", ")}` +
      `${ignored.length > 3 ? ", …" : ""})`;
  if (!options.allowEmptyClasses) {
    throw new Error(
      `${cdir}: empty class folder (class ${label})${holds}: remove it, or allow empty classes ` +
        `(allowEmptyClasses, prepare --allow-empty-classes) to keep it as a class with no images`,
    );
  }
  (options.log ?? console.warn)(
    `warning: ${cdir}: empty class folder, kept as class ${label} with no images`,
  );
}

/** Options of {@link loadImageFolder}. */
export interface LoadImageFolderOptions extends ImageFolderOptions {
  /** Shorter side is scaled to `size`, then the central size×size patch is kept. Default 256. */
  size?: number;
}

const LOAD_IMAGE_FOLDER_OPTIONS = optionNames<LoadImageFolderOptions>({
  maxPixels: true,
  alpha: true,
  skipBad: true,
  extensions: true,
  log: true,
  allowEmptyClasses: true,
  size: true,
});

/**
 * An in-memory dataset decoded from an image folder, with the skipped files listed.
 *
 * @example
 * ```ts
 * import { loadImageFolder } from "./image_folder.ts";
 * import { encode } from "npm:fast-png@8.0.0";
 * const dir = await Deno.makeTempDir();
 * for (const [name, rgb] of [["blue", [0, 0, 255]], ["red", [255, 0, 0]]] as const) {
 *   await Deno.mkdir(`${dir}/${name}`);
 *   const data = new Uint8Array(Array.from({ length: 16 }, () => rgb).flat());
 *   await Deno.writeFile(`${dir}/${name}/a.png`, encode({ width: 4, height: 4, data, channels: 3 }));
 * }
 * await Deno.writeTextFile(`${dir}/red/broken.png`, "not a PNG");
 * const ds = await loadImageFolder(dir, { size: 8, skipBad: true });
 * console.log(ds.length, ds.skipped, ds.skippedFiles); // 2 1 [".../red/broken.png"]
 * ```
 */
export class ImageFolderDataset extends ArrayDataset {
  /** Number of files skipped as bad. */
  readonly skipped: number;
  /** Paths of the files skipped as bad. */
  readonly skippedFiles: readonly string[];
  /** Path of each sample's source file. */
  readonly paths: readonly string[];

  /** The decoded images with the files they came from (built by {@link loadImageFolder}). */
  constructor(
    init: ConstructorParameters<typeof ArrayDataset>[0],
    paths: string[],
    skippedFiles: string[],
  ) {
    super(init);
    this.paths = Object.freeze(paths);
    this.skippedFiles = Object.freeze(skippedFiles);
    this.skipped = skippedFiles.length;
  }
}

/**
 * Decodes a whole image folder into memory at `size × size` (torchvision's `Resize(size)` then
 * `CenterCrop(size)` on PIL images, to the byte). For large folders use
 * `prepareImageFolder` and `ShardDataset` instead.
 *
 * @example
 * ```ts
 * import { loadImageFolder } from "./image_folder.ts";
 * import { encode } from "npm:fast-png@8.0.0";
 * const dir = await Deno.makeTempDir();
 * for (const [name, rgb] of [["blue", [0, 0, 255]], ["red", [255, 0, 0]]] as const) {
 *   await Deno.mkdir(`${dir}/${name}`);
 *   const data = new Uint8Array(Array.from({ length: 16 }, () => rgb).flat());
 *   await Deno.writeFile(`${dir}/${name}/a.png`, encode({ width: 4, height: 4, data, channels: 3 }));
 * }
 * const ds = await loadImageFolder(dir, { size: 8 });
 * const { pixels, label } = ds.get(1); // 8×8×3
 * console.log(pixels.length, ds.classNames[label]); // 192 "red"
 * ```
 */
export async function loadImageFolder(
  dir: string,
  options: LoadImageFolderOptions = {},
): Promise<ImageFolderDataset> {
  checkOptions("loadImageFolder", options, LOAD_IMAGE_FOLDER_OPTIONS);
  const size = options.size ?? 256;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`loadImageFolder: size must be a positive integer, got ${size}`);
  }
  const folder = await ImageFolder.open(dir, options);
  const stride = size * size * 3;
  const chunks: Uint8Array[] = [];
  const labels: number[] = [];
  const paths: string[] = [];
  for (let i = 0; i < folder.files.length; i++) {
    const img = await folder.read(i);
    if (img === null) continue;
    chunks.push(shorterSideCenterCrop(img.pixels, img.width, img.height, size));
    labels.push(folder.files[i].label);
    paths.push(folder.files[i].path);
  }
  const pixels = new Uint8Array(chunks.length * stride);
  chunks.forEach((c, i) => pixels.set(c, i * stride));
  return new ImageFolderDataset(
    { pixels, labels, height: size, width: size, classNames: folder.classNames, source: dir },
    paths,
    [...folder.skippedFiles],
  );
}
