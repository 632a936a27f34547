// Private: the binary shard format written by prepare.ts and read by shard_dataset.ts.
//
// A shard file holds `count` fixed-size records, all little-endian:
//   offset 0   u8[4]  magic "AXSH"
//   offset 4   u32    version (1)
//   offset 8   u32    count
//   offset 12  u32    height
//   offset 16  u32    width
//   offset 20  u32    channels (3)
//   offset 24  u32[2] reserved (0)
//   offset 32  u32[count] labels
//   then       u8[count × height × width × channels] pixels, HWC per image, images in order
// so image i starts at 32 + 4·count + i·height·width·channels.

/** Magic bytes of a shard file. */
export const SHARD_MAGIC = "AXSH";
/** Current shard format version. */
export const SHARD_VERSION = 1;
/** Bytes in the fixed header. */
export const SHARD_HEADER_BYTES = 32;

/** The parsed fixed header of a shard. */
export interface ShardHeader {
  count: number;
  height: number;
  width: number;
  channels: number;
}

/** Byte offset of the first pixel of image `i`. */
export function pixelOffset(h: ShardHeader, i: number): number {
  return SHARD_HEADER_BYTES + 4 * h.count + i * h.height * h.width * h.channels;
}

/** Total file size for the header. */
export function shardBytes(h: ShardHeader): number {
  return pixelOffset(h, h.count);
}

/** Serialises a whole shard. `pixels` holds count × height × width × channels bytes. */
export function encodeShard(
  h: ShardHeader,
  labels: ArrayLike<number>,
  pixels: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(shardBytes(h));
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = SHARD_MAGIC.charCodeAt(i);
  view.setUint32(4, SHARD_VERSION, true);
  view.setUint32(8, h.count, true);
  view.setUint32(12, h.height, true);
  view.setUint32(16, h.width, true);
  view.setUint32(20, h.channels, true);
  for (let i = 0; i < h.count; i++) view.setUint32(SHARD_HEADER_BYTES + 4 * i, labels[i], true);
  out.set(pixels.subarray(0, h.count * h.height * h.width * h.channels), pixelOffset(h, 0));
  return out;
}

/** Parses and checks the fixed header; errors name `name`. */
export function decodeShardHeader(bytes: Uint8Array, name: string): ShardHeader {
  if (bytes.length < SHARD_HEADER_BYTES) throw new Error(`${name}: shard header truncated`);
  const magic = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (magic !== SHARD_MAGIC) throw new Error(`${name}: not a shard file (bad magic)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== SHARD_VERSION) {
    throw new Error(`${name}: shard version ${version} is not supported (want ${SHARD_VERSION})`);
  }
  return {
    count: view.getUint32(8, true),
    height: view.getUint32(12, true),
    width: view.getUint32(16, true),
    channels: view.getUint32(20, true),
  };
}
