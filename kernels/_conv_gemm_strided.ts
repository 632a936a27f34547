/**
 * The input gradient of a strided convolution as implicit GEMMs, one per stride phase pair.
 *
 * Input row iy receives output row oy through kernel row ky exactly when
 * iy + padH − ky = oy·strideH, so the rows of one phase (iy + padH ≡ φ mod strideH) meet only
 * the kernel rows ky ≡ φ: per phase pair a stride-1 GEMM with M = that phase's pixels,
 * N = C/groups and K = O/groups × its taps, and none of the stride² zero taps that one GEMM over
 * every pixel and tap would multiply (`gradInputPhases` in `_conv_geometry.ts` gives the
 * phases; the direct kernel walks the same ones). Each phase reads its taps through a table of
 * (output channel's plane, tap offsets, packed weight row), so one WGSL text serves every phase
 * and shape; the phase's sizes and offsets are uniforms.
 *
 * @module
 */

import type { Binding, Device, GpuBuffer } from "./device.ts";
import { type AxisPhase, gradInputPhases, type Resolved } from "./_conv_geometry.ts";
import type { ConvGemm } from "./_conv_algorithms.ts";
import { convGemmSetup, table, tableReads } from "./_conv_operands.ts";
import {
  dyGatherWgsl,
  type InputGradBindings,
  inputGradDispatch,
  type InputGradRun,
  putDx,
  withPackedWeights,
} from "./_conv_gemm_input.ts";

/** Marks a tap of a phase that no kernel tap reaches (kernel smaller than the stride). */
const NO_TAP = 0x40000000;

/**
 * Taps k = (o, a, c) of one phase pair: vec4u(o·OH·OW, a, c, packed weight row o·KH·KW +
 * ky·KW + kx), with ky = tapFirst − strideH·a (likewise kx). An axis without taps gets one
 * tap whose offset NO_TAP reads nothing, so its pixels get zeros.
 */
function phaseTable(device: Device, g: Resolved, py: AxisPhase, px: AxisPhase): GpuBuffer {
  const ty = Math.max(1, py.taps), tx = Math.max(1, px.taps);
  const key = `s ${g.og} ${g.kernelH} ${g.kernelW} ${g.outH} ${g.outW} ${g.strideH} ` +
    `${g.strideW} ${py.taps} ${py.tapFirst} ${px.taps} ${px.tapFirst}`;
  return table(device, key, () => {
    const t = new Uint32Array(4 * g.og * ty * tx);
    for (let o = 0, k = 0; o < g.og; o++) {
      for (let a = 0; a < ty; a++) {
        for (let c = 0; c < tx; c++, k++) {
          const ky = py.taps ? py.tapFirst - g.strideH * a : 0;
          const kx = px.taps ? px.tapFirst - g.strideW * c : 0;
          const row = o * g.kernelH * g.kernelW + ky * g.kernelW + kx;
          t.set([o * g.outH * g.outW, py.taps ? a : NO_TAP, px.taps ? c : NO_TAP, row], 4 * k);
        }
      }
    }
    return t;
  });
}

/** One run of samples of a strided convolution's input gradient, a GEMM per phase pair. */
export function stridedInputGradGemm(
  device: Device,
  g: Resolved,
  v: ConvGemm,
  run: InputGradRun,
  bind: InputGradBindings,
  name: string,
): void {
  const phasesY = gradInputPhases(g.strideH, g.kernelH, g.padH, g.height);
  const phasesX = gradInputPhases(g.strideW, g.kernelW, g.padW, g.width);
  withPackedWeights(device, g, bind.w, name, (packed) => {
    for (const py of phasesY) {
      for (const px of phasesX) phaseGemm(device, g, v, run, bind, packed, py, px, name);
    }
  });
}

function phaseGemm(
  device: Device,
  g: Resolved,
  v: ConvGemm,
  run: InputGradRun,
  bind: InputGradBindings,
  packed: Binding,
  py: AxisPhase,
  px: AxisPhase,
  name: string,
): void {
  const taps = Math.max(1, py.taps) * Math.max(1, px.taps);
  const M = run.count * py.count * px.count, N = g.cg, K = g.og * taps;
  // The run's shifts, then the phase: its pixel grid, where its taps start in dy, where its
  // pixels land in dx.
  const { grid, uf, G, S, sizes } = convGemmSetup(g, v, run.count, [M, N, K], {
    dyShift: run.dy.shift,
    dxShift: run.dx.shift,
    countY: py.count,
    countX: px.count,
    plane: py.count * px.count,
    originY: py.origin,
    originX: px.origin,
    outY: py.outOffset,
    outX: px.outOffset,
    rows: g.og * g.kernelH * g.kernelW,
  });
  // Phase pixel m's dy row and column of its tap (0, 0); tap (a, c) reads (a, c) further on.
  const pixels = { plane: S.plane, cols: S.countX, originY: S.originY, originX: S.originX };
  const helpers = `${dyGatherWgsl(G, S.dyShift, pixels, "+")}
fn dxRow(g: u32, m: u32) -> u32 {
  let b = m / ${S.plane};
  let r = m % ${S.plane};
  let iy = (r / ${S.countX}) * ${G.strideH} + ${S.outY};
  let ix = (r % ${S.countX}) * ${G.strideW} + ${S.outX};
  return ${S.dxShift} + b * ${G.inSample} + g * ${G.cg} * ${G.hw} + iy * ${G.width} + ix;
}
${putDx(G, !!bind.mask)}`;
  inputGradDispatch(device, g, v, {
    name,
    uf,
    sizes,
    helpers,
    // The table names the packed kernel's row of each of the phase's taps.
    row: (k, kk) => `p * ${S.rows} + ${tableReads("tab").at(k, kk)}.w`,
    tab: { buffer: phaseTable(device, g, py, px), size: 16 * K },
    packed,
    workgroups: grid.workgroups,
    flops: 2 * M * N * K * g.groups,
    variant: " phases",
  }, bind);
}
