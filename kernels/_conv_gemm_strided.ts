/**
 * The input gradient of a strided convolution as implicit GEMMs, one per stride phase pair,
 * all in one dispatch.
 *
 * Input row iy receives output row oy through kernel row ky exactly when
 * iy + padH − dilationH·ky = oy·strideH, so the rows of one phase (iy + padH ≡ φ mod strideH)
 * meet only the kernel rows with dilationH·ky ≡ φ (ky ≡ φ at dilation 1): per phase pair a stride-1 GEMM with M = that phase's pixels,
 * N = C/groups and K = O/groups × its taps, and none of the stride² zero taps that one GEMM over
 * every pixel and tap would multiply (`gradInputPhases` in `_conv_geometry.ts` gives the
 * phases; the direct kernel walks the same ones). The dispatch's products are the groups ×
 * phase pairs: a product reads its pair's sizes and offsets from a header in the offset table,
 * then its taps through the table's (output channel's plane, tap offsets, packed weight row)
 * entries, so one WGSL text serves every pair and shape, and one dispatch (not stride² of
 * them, each with its host recording and its tail of idle threads) runs them all. The grid
 * covers the largest pair; workgroups past a smaller pair's pixels only load zeros.
 *
 * @module
 */

import type { Device, GpuBuffer } from "./device.ts";
import {
  type AxisPhase,
  dilationTag,
  gradInputPhases,
  phaseTapSteps,
  type Resolved,
} from "./_conv_geometry.ts";
import type { ConvGemm } from "./_conv_algorithms.ts";
import { memoised } from "./_memo.ts";
import {
  type ConvGemmNames,
  convGemmSetup,
  convGemmWgsl,
  table,
  tableReads,
} from "./_conv_operands.ts";
import {
  dyGatherWgsl,
  type InputGradBindings,
  inputGradDispatch,
  type InputGradParams,
  inputGradParams,
  type InputGradRun,
  inputGradWgsl,
  putDx,
  withPackedWeights,
} from "./_conv_gemm_input.ts";

/** Marks a tap of a phase that no kernel tap reaches (kernel smaller than the stride). */
const NO_TAP = 0x40000000;

/** Table entries ahead of each phase's taps: its header. */
const HEADER = 2;

/** The phase pairs of a strided input gradient, row phases outer. */
function phasePairs(g: Resolved): [AxisPhase, AxisPhase][] {
  return axisPairs(
    [g.strideH, g.kernelH, g.padH, g.height, g.dilationH],
    [g.strideW, g.kernelW, g.padW, g.width, g.dilationW],
  );
}

/** The pairs of two axes' phases (stride, kernel, padding, size each), kept per geometry. */
const axisPairs = memoised((rows: AxisGeometry, cols: AxisGeometry): [AxisPhase, AxisPhase][] => {
  const phasesY = gradInputPhases(...rows), phasesX = gradInputPhases(...cols);
  return phasesY.flatMap((py) => phasesX.map((px): [AxisPhase, AxisPhase] => [py, px]));
});

type AxisGeometry = Parameters<typeof gradInputPhases>;

/** Taps of a phase pair (an axis without taps has one, which reads nothing). */
function tapCount(py: AxisPhase, px: AxisPhase): number {
  return Math.max(1, py.taps) * Math.max(1, px.taps);
}

/**
 * Every phase pair's header and taps in one table (wrapping u32 where negative). Pair i's header
 * is entry 2i: vec4u(pixels per sample, pixels per row, dy row and column of its pixel 0's tap
 * (0, 0)), then vec4u(dx row and column of its pixel 0, taps, where its taps start). Tap
 * k = (o, a, c): vec4u(o·OH·OW, readStep·a, readStep·c, packed weight row o·KH·KW + ky·KW + kx),
 * with ky = tapFirst − kernelStep·a (likewise kx; the steps of `phaseTapSteps`, strideH and 1
 * at dilation 1); an axis without taps gets one tap whose offset NO_TAP reads nothing, so its
 * pixels get zeros.
 */
function phaseTable(device: Device, g: Resolved, pairs: [AxisPhase, AxisPhase][]): GpuBuffer {
  const key = `s ${g.og} ${g.kernelH} ${g.kernelW} ${g.outH} ${g.outW} ${g.strideH} ` +
    `${g.strideW} ${g.padH} ${g.padW} ${g.height} ${g.width}${dilationTag(g)}`;
  const stepsY = phaseTapSteps(g.strideH, g.dilationH);
  const stepsX = phaseTapSteps(g.strideW, g.dilationW);
  return table(device, key, () => {
    const taps = pairs.reduce((sum, [py, px]) => sum + g.og * tapCount(py, px), 0);
    const t = new Uint32Array(4 * (HEADER * pairs.length + taps));
    let k = HEADER * pairs.length;
    pairs.forEach(([py, px], i) => {
      const header = [py.count * px.count, px.count, py.origin, px.origin, py.outOffset];
      t.set([...header, px.outOffset, g.og * tapCount(py, px), k].map((v) => v >>> 0), 8 * i);
      for (let o = 0; o < g.og; o++) {
        for (let a = 0; a < Math.max(1, py.taps); a++) {
          for (let c = 0; c < Math.max(1, px.taps); c++, k++) {
            const ky = py.taps ? py.tapFirst - stepsY.kernelStep * a : 0;
            const kx = px.taps ? px.tapFirst - stepsX.kernelStep * c : 0;
            const row = o * g.kernelH * g.kernelW + ky * g.kernelW + kx;
            const dy = py.taps ? stepsY.readStep * a : NO_TAP;
            const dx = px.taps ? stepsX.readStep * c : NO_TAP;
            t.set([o * g.outH * g.outW, dy, dx, row], 4 * k);
          }
        }
      }
    });
    return t;
  });
}

/**
 * One run of samples of a strided convolution's input gradient: one dispatch, whose products
 * are the groups × phase pairs, each a GEMM of its own M (the pair's pixels) and K (its taps).
 */
export function stridedInputGradGemm(
  device: Device,
  g: Resolved,
  v: ConvGemm,
  run: InputGradRun,
  bind: InputGradBindings,
  name: string,
): void {
  const pairs = phasePairs(g);
  const Ms = pairs.map(([py, px]) => run.count * py.count * px.count);
  const Ks = pairs.map(([py, px]) => g.og * tapCount(py, px));
  const N = g.cg, batch = g.groups * pairs.length;
  // The grid covers the largest pair; a pair's own M and K come from its header.
  const setup = convGemmSetup(
    g,
    v,
    run.count,
    [Math.max(...Ms), N, Math.max(...Ks)],
    {
      dyShift: run.dy.shift,
      dxShift: run.dx.shift,
      rows: g.og * g.kernelH * g.kernelW,
      groups: g.groups,
    },
    1,
    batch,
  );
  withPackedWeights(device, g, bind.w, name, (packed) =>
    inputGradDispatch(device, v, {
      name,
      wgsl: phasesWgsl(inputGradParams(g, v, bind), setup),
      uf: setup.uf,
      tab: {
        buffer: phaseTable(device, g, pairs),
        size: 16 * (HEADER * pairs.length + Ks.reduce((sum, k) => sum + k, 0)),
      },
      packed,
      workgroups: setup.grid.workgroups,
      flops: 2 * N * g.groups * Ms.reduce((sum, m, i) => sum + m * Ks[i], 0),
      variant: " phases",
    }, bind));
}

const phasesWgsl = convGemmWgsl((
  p: InputGradParams,
  { uf, G, S, sizes }: ConvGemmNames<"dyShift" | "dxShift" | "rows" | "groups">,
): string => {
  // Product p is group p mod groups of pair p / groups.
  const helpers = `
fn head(p: u32) -> vec4u {
  return tab[${HEADER}u * (p / ${S.groups})];
}
fn tail(p: u32) -> vec4u {
  return tab[${HEADER}u * (p / ${S.groups}) + 1u];
}
${
    dyGatherWgsl(G, S.dyShift, {
      plane: "head(g).x",
      cols: "head(g).y",
      originY: "head(g).z",
      originX: "head(g).w",
      group: `g % ${S.groups}`,
    }, "+")
  }
fn dxRow(p: u32, m: u32) -> u32 {
  let h = head(p);
  let t = tail(p);
  let b = m / h.x;
  let r = m % h.x;
  let iy = (r / h.y) * ${G.strideH} + t.x;
  let ix = (r % h.y) * ${G.strideW} + t.y;
  return ${S.dxShift} + b * ${G.inSample} + (p % ${S.groups}) * ${G.cg} * ${G.hw} +
    iy * ${G.width} + ix;
}
${putDx(G, p.masked)}`;
  const tabBase = "tail(p).w";
  return inputGradWgsl(p, {
    uf,
    G,
    // A pair's own M and K, from its header.
    sizes: { ...sizes, m: `(${G.batchRun} * head(p).x)`, k: "tail(p).z" },
    helpers,
    // The table names the packed kernel's row of each of the pair's taps.
    row: (k, kk) => `(p % ${S.groups}) * ${S.rows} + ${tableReads("tab", tabBase).at(k, kk)}.w`,
    tabBase,
  });
});
