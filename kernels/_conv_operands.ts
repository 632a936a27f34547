/**
 * What every convolution GEMM shares (`_conv_gemm.ts`, `_conv_gemm_input.ts`,
 * `_conv_gemm_strided.ts`): the offset tables through which operands are gathered without an
 * im2col buffer, built once per device and geometry; the uniforms in the order every pass
 * registers them; and the A operand gathered per output or input pixel.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import { gemmGrid, type GemmOperand, gemmSizeUniforms } from "./_gemm.ts";
import { Uniforms } from "./_uniforms.ts";
import { memoisedBy } from "./_memo.ts";
import { dilationTag, type Resolved } from "./_conv_geometry.ts";
import type { ConvGemm } from "./_conv_algorithms.ts";

/**
 * A per-geometry table of vec4u, built once per device and kept among its recently used
 * constant tables (bounded: a run that meets ever-new geometries, such as varying input
 * sizes, does not keep one per geometry for the device's life).
 */
export function table(device: Device, key: string, build: () => Uint32Array): GpuBuffer {
  return device.constantBuffer(`conv ${key}`, build, "conv offset table");
}

/**
 * Forward taps k = (c, ky, kx), whose input offsets are dy = dilationH·ky and dx = dilationW·kx:
 * vec4u(c·H·W + dy·W + dx, dy, dx, 0). Dilation lives here alone: the kernels add a tap's
 * offsets to a pixel's corner, wherever the taps lie.
 */
export function forwardTable(device: Device, g: Resolved): GpuBuffer {
  const key = `f ${g.cg} ${g.kernelH} ${g.kernelW} ${g.height} ${g.width}${dilationTag(g)}`;
  return table(device, key, () => {
    const t = new Uint32Array(4 * g.wk);
    for (let k = 0; k < g.wk; k++) {
      const c = Math.floor(k / (g.kernelH * g.kernelW)), r = k % (g.kernelH * g.kernelW);
      const dy = g.dilationH * Math.floor(r / g.kernelW), dx = g.dilationW * (r % g.kernelW);
      t.set([c * g.height * g.width + dy * g.width + dx, dy, dx, 0], 4 * k);
    }
    return t;
  });
}

/**
 * Input-gradient taps k = (o, ky, kx), with offsets dy = dilationH·ky and dx = dilationW·kx
 * (an input pixel reads dY that far up and left of it): vec4u(o·OH·OW, dy, dx, o·wk + ky·KW + kx).
 */
export function inputTable(device: Device, g: Resolved): GpuBuffer {
  const key = `i ${g.og} ${g.wk} ${g.kernelH} ${g.kernelW} ${g.outH} ${g.outW}${dilationTag(g)}`;
  return table(device, key, () => {
    const taps = g.kernelH * g.kernelW, t = new Uint32Array(4 * g.og * taps);
    for (let k = 0; k < g.og * taps; k++) {
      const o = Math.floor(k / taps), r = k % taps;
      const ky = Math.floor(r / g.kernelW), kx = r % g.kernelW;
      const dy = g.dilationH * ky, dx = g.dilationW * kx;
      t.set([o * g.outH * g.outW, dy, dx, o * g.wk + ky * g.kernelW + kx], 4 * k);
    }
    return t;
  });
}

/**
 * Output pixels k = (b, oy, ox) of a run of `count` samples: vec4u(b·outSample + oy·OW + ox,
 * b·inSample, oy·SH − PH, ox·SW − PW) (wrapping u32 where negative). The weight gradient's K
 * loop walks pixels; the table spares it three divisions per load.
 */
export function pixelTable(device: Device, g: Resolved, count: number): GpuBuffer {
  const key = `p ${count} ${g.inChannels} ${g.height} ${g.width} ${g.outChannels} ${g.outH} ` +
    `${g.outW} ${g.strideH} ${g.strideW} ${g.padH} ${g.padW}`;
  return table(device, key, () => {
    const ohw = g.outH * g.outW, t = new Uint32Array(4 * count * ohw);
    const inSample = g.inChannels * g.height * g.width, outSample = g.outChannels * ohw;
    for (let b = 0, k = 0; b < count; b++) {
      for (let oy = 0; oy < g.outH; oy++) {
        for (let ox = 0; ox < g.outW; ox++, k++) {
          const iy = (oy * g.strideH - g.padH) >>> 0, ix = (ox * g.strideW - g.padW) >>> 0;
          t.set([b * outSample + oy * g.outW + ox, b * inSample, iy, ix], 4 * k);
        }
      }
    }
    return t;
  });
}
/** The sizes every conv GEMM shares as uniforms. */
export function geometryUniforms(uf: Uniforms, g: Resolved, count: number) {
  return uf.all({
    batchRun: count,
    height: g.height,
    width: g.width,
    hw: g.height * g.width,
    outH: g.outH,
    outW: g.outW,
    ohw: g.outH * g.outW,
    strideH: g.strideH,
    strideW: g.strideW,
    padH: g.padH,
    padW: g.padW,
    cg: g.cg,
    og: g.og,
    wk: g.wk,
    taps: g.kernelH * g.kernelW,
    inSample: g.inChannels * g.height * g.width,
    outSample: g.outChannels * g.outH * g.outW,
  });
}

/**
 * A conv GEMM's grid and uniforms, in the order every pass registers them: the shared
 * geometry (`G`), the pass's own values (`S`: run shifts, phase sizes), then the core's sizes.
 * Only the weight gradient splits K (its `v.splits`); the other passes keep one range. The
 * grid's products are the groups, or `batch` of them (the strided input gradient's groups ×
 * stride phases).
 */
export function convGemmSetup<K extends string>(
  g: Resolved,
  v: ConvGemm,
  count: number,
  [m, n, k]: [number, number, number],
  own: Record<K, number>,
  splits = 1,
  batch = g.groups,
) {
  const grid = gemmGrid(v.tile, m, n, k, batch, splits);
  const uf = new Uniforms();
  const G = geometryUniforms(uf, g, count);
  const S = uf.all(own);
  const sizes = gemmSizeUniforms(uf, grid, m, n, k, batch);
  return { grid, uf, G, S, sizes };
}
/**
 * The WGSL names of a conv GEMM's uniforms ({@link convGemmSetup} without its grid): what a
 * pass's text is written in, instead of the values.
 */
export type ConvGemmNames<K extends string> = Omit<ReturnType<typeof convGemmSetup<K>>, "grid">;

/**
 * A conv GEMM pass's WGSL generator, memoised: generating the text (the GEMM core's unrolled
 * loops) costs more host time than the rest of recording the dispatch. The text depends only
 * on `params` (plain data: the tile and the pass's flags) and on the names and order of the
 * uniforms (`names.uf.layout`), never on their values, so it is keyed by those two. Write
 * `generate` at module level, so that a shape cannot slip into the text through a closure.
 */
export function convGemmWgsl<P, K extends string>(
  generate: (params: P, names: ConvGemmNames<K>) => string,
): (params: P, names: ConvGemmNames<K>) => string {
  return memoisedBy((params, names) => `${JSON.stringify(params)} ${names.uf.layout}`, generate);
}

/**
 * How a conv GEMM reads entry k of the offset table `name` (`array<vec4u>`), counted from
 * entry `base` (a WGSL expression; default 0). The register GEMM
 * reads a step's 4 entries once: lane kk loads depth k0 + kk's (`step`) and `at` broadcasts it
 * to every lane, where otherwise each lane loads every entry (on a software adapter a load is a
 * loop over the lanes, so 4 loads of the same address cost 4 loops). Elsewhere `at` reads it.
 */
export function tableReads(name: string, base = ""): {
  step: (k0: string) => string;
  at: (k: string, kk?: number) => string;
} {
  const shared = `${name}Step`, from = base ? `${base} + ` : "";
  return {
    // Depths past the table (the last step's) read its last entry; their values are masked.
    step: (k0) =>
      `let ${shared} = ${name}[min(${from}${k0} + (lane & 3u), arrayLength(&${name}) - 1u)];`,
    at: (k, kk) =>
      kk === undefined ? `${name}[${from}${k}]` : `subgroupBroadcast(${shared}, ${kk}u)`,
  };
}

/**
 * The A operand of the forward pass and the input gradient: per load unit the caller's
 * `corner(m, p)` (its pixel's base and coordinates, decoded once), per tap its `gather` of
 * the pixel and the tap's entry of the table `tab` (from entry `base` on).
 */
export function gatheredA(gather: string, base = ""): GemmOperand {
  const tab = tableReads("tab", base);
  return {
    vec4: false,
    kContig: false,
    prep: (m) => `corner(${m}, p)`,
    load: (_m, k, pr, kk) => `${gather}(${pr}, ${tab.at(k, kk)})`,
    step: tab.step,
  };
}
