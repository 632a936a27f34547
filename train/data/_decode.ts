// Private: decodes PNG and JPEG bytes to 8-bit RGB, choosing the decoder by magic bytes.
// The decoders (npm fast-png, jpeg-js) are imported dynamically on first use only.

import { optionNames } from "../../tensor/options.ts";
import { isPlainYcc, readJpegLayout, yccToRgbAsLibjpeg } from "./_jpeg_ycc.ts";

/** A decoded image: `height × width × 3` bytes, HWC RGB. */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `height × width × 3` bytes, HWC, RGB. */
  pixels: Uint8Array;
}

/** How transparent pixels are turned into RGB: `"drop"` keeps the stored colour (PIL's). */
export type AlphaMode = "white" | "black" | "drop";

/** Options shared by image decoding. */
export interface DecodeOptions {
  /** Largest accepted width × height, checked from the header before decoding. Default 50e6. */
  maxPixels?: number;
  /**
   * Alpha handling: drop it and keep the stored colour (default, as PIL's `convert("RGB")` in
   * torchvision's default loader does, so the pixels are PyTorch's), or composite over white
   * or black.
   */
  alpha?: AlphaMode;
}

/** The names of {@link DecodeOptions}, for `checkOptions`. */
export const DECODE_OPTIONS = optionNames<DecodeOptions>({ maxPixels: true, alpha: true });

/** Default pixel cap: 50 megapixels. */
export const DEFAULT_MAX_PIXELS = 50_000_000;

/** The container format of `bytes` by magic number, or null if neither PNG nor JPEG. */
export function sniffFormat(bytes: Uint8Array): "png" | "jpeg" | null {
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "jpeg";
  }
  return null;
}

/** Width and height from the header (PNG IHDR or the first JPEG SOFn), or null if absent. */
export function readDimensions(
  bytes: Uint8Array,
  format: "png" | "jpeg",
): { width: number; height: number } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (format === "png") {
    if (bytes.length < 24) return null;
    const tag = String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]);
    if (tag !== "IHDR") return null;
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  let o = 2;
  while (o + 4 <= bytes.length) {
    if (bytes[o] !== 0xff) {
      o++; // tolerate garbage between segments, as decoders do
      continue;
    }
    const marker = bytes[o + 1];
    if (marker === 0xff) {
      o++; // fill byte
      continue;
    }
    o += 2;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (marker === 0xd9 || marker === 0xda) return null; // EOI / SOS before any frame
    if (o + 2 > bytes.length) return null;
    const len = view.getUint16(o);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
      marker !== 0xcc;
    if (isSof) {
      if (o + 7 > bytes.length) return null;
      return { height: view.getUint16(o + 3), width: view.getUint16(o + 5) };
    }
    o += len;
  }
  return null;
}

type FastPng = typeof import("npm:fast-png@8.0.0");
type JpegJs = typeof import("npm:jpeg-js@0.4.4");
let fastPng: Promise<FastPng> | null = null;
let jpegJs: Promise<JpegJs> | null = null;

function composite(v: number, a: number, bg: number): number {
  return Math.round(v * a + bg * (1 - a));
}

/**
 * How PIL (`Image.open(…).convert("RGB")`, torchvision's default loader) turns a PNG sample of
 * `depth` bits into a byte: 16-bit colour and grey+alpha keep the high byte (PIL's `;16B`
 * unpackers), while 16-bit grey opens as a 32-bit integer image whose conversion clips at 255
 * (a value of 256 or more is white); samples under 8 bits scale to 0-255.
 */
function toByteAsPil(depth: number, channels: number): (v: number) => number {
  if (depth === 8) return (v) => v;
  if (depth === 16) return channels === 1 ? (v) => Math.min(v, 255) : (v) => v >> 8;
  const scale = 255 / ((1 << depth) - 1);
  return (v) => Math.round(v * scale);
}

/** Converts PNG samples (any colour type and depth) to 8-bit RGB. */
async function decodePngRgb(bytes: Uint8Array, alpha: AlphaMode): Promise<RgbImage> {
  const png = await (fastPng ??= import("npm:fast-png@8.0.0"));
  const img = png.decode(bytes, { checkCrc: true });
  const { width, height } = img;
  const n = width * height;
  let channels = img.channels;
  let depth: number = img.depth;
  let raw: ArrayLike<number> = img.data;
  if (img.palette) {
    raw = png.convertIndexedToRgb(img);
    channels = img.palette[0]?.length ?? 3;
    depth = 8;
  } else if (depth < 8) {
    // Sub-byte greyscale: rows are packed MSB first and padded to a byte.
    const unpacked = new Uint8Array(n * channels);
    const perRow = width * channels;
    const rowBytes = Math.ceil((perRow * depth) / 8);
    const mask = (1 << depth) - 1;
    for (let y = 0; y < height; y++) {
      for (let i = 0; i < perRow; i++) {
        const bit = i * depth;
        const byte = img.data[y * rowBytes + (bit >> 3)];
        unpacked[y * perRow + i] = (byte >> (8 - depth - (bit & 7))) & mask;
      }
    }
    raw = unpacked;
  }
  const toByte = toByteAsPil(depth, channels);
  const maxv = (1 << depth) - 1;
  const key = !img.palette && img.transparency && img.transparency.length > 0
    ? img.transparency
    : null; // tRNS colour key (greyscale: 1 value, truecolour: 3)
  const hasAlpha = channels === 2 || channels === 4;
  const bg = alpha === "white" ? 255 : 0;
  const out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    const s = p * channels;
    let r: number, g: number, b: number, a = maxv;
    if (channels <= 2) {
      r = g = b = raw[s];
      if (hasAlpha) a = raw[s + 1];
      else if (key && raw[s] === key[0]) a = 0;
    } else {
      r = raw[s];
      g = raw[s + 1];
      b = raw[s + 2];
      if (hasAlpha) a = raw[s + 3];
      else if (key && key.length >= 3 && r === key[0] && g === key[1] && b === key[2]) a = 0;
    }
    const o = p * 3;
    out[o] = toByte(r);
    out[o + 1] = toByte(g);
    out[o + 2] = toByte(b);
    if (alpha !== "drop" && a !== maxv) {
      const af = a / maxv;
      for (let c = o; c < o + 3; c++) out[c] = composite(out[c], af, bg);
    }
  }
  return { width, height, pixels: out };
}

async function decodeJpegRgb(bytes: Uint8Array, maxPixels: number): Promise<RgbImage> {
  const mod = await (jpegJs ??= import("npm:jpeg-js@0.4.4"));
  const jpeg = ((mod as unknown as { default?: JpegJs }).default ?? mod) as JpegJs;
  // A plain YCbCr file (most photographs) gets libjpeg's chroma upsampling and colour
  // conversion, as torchvision's loader (PIL) decodes it: jpeg-js replicates subsampled chroma
  // and truncates, which put 4:2:0 pixels several levels off PIL's (tens at colour edges).
  // jpeg-js converts greyscale, Adobe YCbCr, CMYK and YCCK to RGB itself.
  const layout = readJpegLayout(bytes);
  const ycc = layout !== null && isPlainYcc(layout);
  const img = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    tolerantDecoding: false,
    maxResolutionInMP: maxPixels / 1e6,
    maxMemoryUsageInMB: Math.max(512, Math.ceil((maxPixels * 16) / 2 ** 20)),
    ...(ycc && { colorTransform: false }),
  });
  if (!ycc) return { width: img.width, height: img.height, pixels: img.data };
  const [luma] = layout.components;
  const pixels = yccToRgbAsLibjpeg(img.data, img.width, img.height, luma.h, luma.v);
  return { width: img.width, height: img.height, pixels };
}

/**
 * Decodes PNG or JPEG bytes (chosen by magic bytes, whatever the file name says) to RGB.
 * Every failure throws an Error whose message starts with `name`.
 */
export async function decodeImageBytes(
  bytes: Uint8Array,
  name: string,
  options: DecodeOptions = {},
): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const alpha = options.alpha ?? "drop";
  const format = sniffFormat(bytes);
  if (format === null) throw new Error(`${name}: not a PNG or JPEG file (unknown magic bytes)`);
  const dims = readDimensions(bytes, format);
  if (dims === null) throw new Error(`${name}: ${format.toUpperCase()} header has no image size`);
  if (dims.width < 1 || dims.height < 1) {
    throw new Error(`${name}: empty ${format.toUpperCase()} image ${dims.width}×${dims.height}`);
  }
  if (dims.width * dims.height > maxPixels) {
    throw new Error(
      `${name}: ${dims.width}×${dims.height} image exceeds the pixel cap of ${maxPixels} pixels`,
    );
  }
  let img: RgbImage;
  try {
    img = format === "png"
      ? await decodePngRgb(bytes, alpha)
      : await decodeJpegRgb(bytes, maxPixels);
  } catch (e) {
    // The decoders' messages may end in a colon with nothing after it.
    const reason = (e as Error).message.replace(/[\s:]+$/, "") || "corrupt data";
    throw new Error(`${name}: cannot decode ${format.toUpperCase()}: ${reason}`, { cause: e });
  }
  if (
    img.width !== dims.width || img.height !== dims.height ||
    img.pixels.length !== img.width * img.height * 3
  ) {
    throw new Error(`${name}: decoded size does not match the ${format.toUpperCase()} header`);
  }
  return img;
}
