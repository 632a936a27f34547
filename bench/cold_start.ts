/**
 * The cold start of the default `train`: the first steps of `deno run -A cli.ts train` (its
 * configuration, data, model and trainer), with Mesa's shader cache off unless
 * `--shader-cache` is given. Prints the time of the configuration and data (the synthetic
 * training set is drawn then), the pipelines the first step compiled, its wall time, the
 * host time spent creating pipelines, and the median of the warm steps; with
 * `--per-pipeline`, compiles each of the run's shaders again on the same device, one at a time,
 * and lists what each costs (creating it on the host, then its first dispatch, where lavapipe
 * runs LLVM), largest first. The first dispatch binds the uniform values of the shader's first
 * dispatch in the run: lavapipe (Mesa 22.3) specialises a shader on the values of the uniforms
 * that its branches and loop bounds read, at its first dispatch, and keeps the specialisation
 * only if it halves the shader; zeros would let it drop most of the code and compile a fraction
 * of what the run compiled.
 *
 *     deno run -A bench/cold_start.ts [--steps 12] [--per-pipeline] [--shader-cache] [--out f.json]
 *
 * Every step reads its loss back (`--log-every 1`), so a step's time includes one readback.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { trainConfig } from "../cli/train.ts";
import { acquireDevices, buildModel, heInit, releaseDevices } from "../cli/_model.ts";
import { runTrainOptions } from "../cli/_train_options.ts";
import { createTrainer } from "../train/train.ts";
import { Device } from "../kernels/device.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    steps: { type: "string", default: "12" },
    "per-pipeline": { type: "boolean", default: false },
    "shader-cache": { type: "boolean", default: false },
    top: { type: "string", default: "12" },
    out: { type: "string" },
  },
  strict: true,
});
const steps = Number(values.steps);
if (!Number.isInteger(steps) || steps < 3) throw new Error("--steps must be an integer ≥ 3");
// Read by Mesa when the Vulkan device is created, so set before any adapter is requested.
if (!values["shader-cache"]) Deno.env.set("MESA_SHADER_CACHE_DISABLE", "true");

/** A shader module the run created: its label (the dispatch's name and variant) and WGSL. */
interface Shader {
  label: string;
  code: string;
}
const shaders: Shader[] = [];
const create = GPUDevice.prototype.createShaderModule;
GPUDevice.prototype.createShaderModule = function (d: GPUShaderModuleDescriptor) {
  shaders.push({ label: d.label ?? "", code: d.code });
  return create.call(this, d);
};
/** The uniform values of each shader's first dispatch, by WGSL. */
const firstUniforms = new Map<string, Uint32Array>();
const dispatch = Device.prototype.dispatch;
Device.prototype.dispatch = function (d, bindings) {
  if (d.uniforms && !firstUniforms.has(d.wgsl)) firstUniforms.set(d.wgsl, d.uniforms);
  return dispatch.call(this, d, bindings);
};

// The configuration and data: the synthetic training set is drawn here (its channel mean), on
// the host, before any GPU work.
const configStart = performance.now();
const { config, splits } = await trainConfig({ "log-every": "1" });
const configMs = performance.now() - configStart;
const setupStart = performance.now();
const [device] = await acquireDevices(config.devices);
const model = buildModel(config, [device]);
if (config.init === "he") await heInit(model, config.seed);
// Waited for here, so that the first step's figures hold the step's compiles only.
await device.sync();
const setup = { ms: performance.now() - setupStart, pipelines: device.memory().pipelines };
const stepEnds: { ms: number; pipelines: number; compileMs: number }[] = [];
const start = performance.now();
const trainer = createTrainer({
  ...runTrainOptions(config, model, splits, {
    runDir: undefined as unknown as string,
    resume: false,
    device,
    signal: new AbortController().signal,
  }),
  valData: undefined,
  callbacks: [{
    onLog(t) {
      const { pipelines, compileMs } = device.memory();
      stepEnds.push({ ms: performance.now() - start, pipelines, compileMs });
      if (stepEnds.length >= steps) t.requestStop();
    },
  }],
});
const firstStepShaders = (await runSteps()).pipelines;
const times = stepEnds.map((s, i) => s.ms - (i ? stepEnds[i - 1].ms : 0));
const warm = times.slice(2).sort((a, b) => a - b);
const report = {
  adapter: device.describe(),
  shaderCache: values["shader-cache"],
  batch: config.batchSize,
  crop: config.crop,
  configMs,
  setupMs: setup.ms,
  setupPipelines: setup.pipelines,
  firstStepMs: times[0],
  firstStepPipelines: firstStepShaders,
  hostCompileMs: stepEnds[0].compileMs,
  laterPipelines: device.compiledKernels().slice(stepEnds[0].pipelines),
  warmStepMs: warm[Math.floor(warm.length / 2)],
  warmStepsMs: times.slice(2),
  perPipeline: values["per-pipeline"] ? await recompileEach(device.gpu, shaders) : undefined,
};
console.log(
  `cold start of the default train (batch ${report.batch}, ${report.crop}×${report.crop}, ` +
    `${report.adapter}, Mesa's shader cache ${report.shaderCache ? "on" : "off"}):\n` +
    `configuration and data ${report.configMs.toFixed(0)} ms; ` +
    `setup (device, model, initialisation) ${report.setupMs.toFixed(0)} ms, ` +
    `${report.setupPipelines} pipelines; ` +
    `first step ${report.firstStepMs.toFixed(0)} ms, ${report.firstStepPipelines} pipelines ` +
    `(${report.hostCompileMs.toFixed(0)} ms creating them on the host); ` +
    `${report.laterPipelines.length} more in steps 2–${stepEnds.length}` +
    `${report.laterPipelines.length ? ` (${report.laterPipelines.join("; ")})` : ""}; ` +
    `warm step ${report.warmStepMs.toFixed(1)} ms (median of ${warm.length})`,
);
if (report.perPipeline) {
  const list = report.perPipeline;
  const total = (k: "createMs" | "firstDispatchMs") => list.reduce((s, p) => s + p[k], 0);
  console.log(
    `\neach shader compiled again alone: ${list.length} pipelines, ` +
      `${total("createMs").toFixed(0)} ms creating + ${total("firstDispatchMs").toFixed(0)} ms ` +
      `in first dispatches (less an empty dispatch's wait); largest first:`,
  );
  const sorted = [...list].sort((a, b) =>
    b.createMs + b.firstDispatchMs - a.createMs - a.firstDispatchMs
  );
  for (const p of sorted.slice(0, Number(values.top))) {
    console.log(
      `${(p.createMs + p.firstDispatchMs).toFixed(0).padStart(6)} ms  ` +
        `(${p.createMs.toFixed(0)} + ${
          p.firstDispatchMs.toFixed(0)
        })  ${p.lines} lines  ${p.label}`,
    );
  }
  // By kernel (the label's first word): where a family of small pipelines adds up.
  const kernels = new Map<string, { count: number; ms: number }>();
  for (const p of list) {
    const kernel = p.label.split(/[ [(]/)[0];
    const k = kernels.get(kernel) ?? { count: 0, ms: 0 };
    kernels.set(kernel, { count: k.count + 1, ms: k.ms + p.createMs + p.firstDispatchMs });
  }
  const families = [...kernels].sort((a, b) => b[1].ms - a[1].ms);
  console.log(
    "\nby kernel: " +
      families.map(([name, k]) => `${name} ${k.count}: ${k.ms.toFixed(0)} ms`).join("; "),
  );
}
if (values.out) await Deno.writeTextFile(values.out, JSON.stringify(report, null, 1) + "\n");
trainer.dispose();
trainer.optimizer.dispose();
await releaseDevices();
Deno.exit(0);

/** Runs the trainer until the stop; returns the pipelines the first step compiled. */
async function runSteps(): Promise<{ pipelines: number }> {
  const before = device.memory().pipelines;
  await trainer.run();
  return { pipelines: stepEnds[0].pipelines - before };
}

/** What compiling one shader again, alone, cost. */
interface PipelineCost {
  label: string;
  lines: number;
  /** Creating the shader module and the pipeline on the host. */
  createMs: number;
  /** Its first dispatch of one workgroup to completion, less that of a compiled pipeline. */
  firstDispatchMs: number;
}

/**
 * Compiles each shader again as a new pipeline and dispatches one workgroup of it on
 * placeholder storage buffers with the uniform values of its first dispatch in the run (see
 * the module doc), timing both halves.
 */
async function recompileEach(gpu: GPUDevice, list: readonly Shader[]): Promise<PipelineCost[]> {
  // One placeholder per binding index: a storage binding written must alias no other.
  const buffers = new Map<string, GPUBuffer>();
  const placeholder = (binding: number) => {
    let buffer = buffers.get(`${binding}`);
    const usage = GPUBufferUsage.STORAGE;
    if (!buffer) buffers.set(`${binding}`, buffer = gpu.createBuffer({ size: 1 << 20, usage }));
    return buffer;
  };
  const uniformBuffer = (code: string) => {
    const values = firstUniforms.get(code) ?? new Uint32Array(4);
    let buffer = buffers.get(`${values}`);
    if (!buffer) {
      const size = Math.max(16, values.byteLength), usage = GPUBufferUsage.UNIFORM;
      buffers.set(`${values}`, buffer = gpu.createBuffer({ size, usage, mappedAtCreation: true }));
      new Uint32Array(buffer.getMappedRange()).set(values);
      buffer.unmap();
    }
    return buffer;
  };
  const run = async (pipeline: GPUComputePipeline, code: string): Promise<number> => {
    const entries = [...code.matchAll(/@binding\((\d+)\)\s*var<(\w+)/g)].map((m) => ({
      binding: Number(m[1]),
      resource: { buffer: m[2] === "uniform" ? uniformBuffer(code) : placeholder(Number(m[1])) },
    }));
    const start = performance.now();
    const encoder = gpu.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, gpu.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
    pass.dispatchWorkgroups(1);
    pass.end();
    gpu.queue.submit([encoder.finish()]);
    await gpu.queue.onSubmittedWorkDone();
    return performance.now() - start;
  };
  const compile = (code: string) =>
    gpu.createComputePipeline({
      layout: "auto",
      compute: { module: create.call(gpu, { code }), entryPoint: "main" },
    });
  // The wait of a dispatch that compiles nothing: the first shader, compiled once already.
  const warmPipeline = compile(list[0].code);
  await run(warmPipeline, list[0].code);
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) waits.push(await run(warmPipeline, list[0].code));
  const emptyWait = waits.sort((a, b) => a - b)[2];
  const out: PipelineCost[] = [];
  for (const { label, code } of list) {
    gpu.pushErrorScope("validation");
    const start = performance.now();
    const pipeline = compile(code);
    const createMs = performance.now() - start;
    const dispatchMs = await run(pipeline, code);
    const error = await gpu.popErrorScope();
    if (error) throw new Error(`recompiling ${label}: ${error.message}`);
    out.push({
      label,
      lines: code.split("\n").length,
      createMs,
      firstDispatchMs: Math.max(0, dispatchMs - emptyWait),
    });
  }
  for (const b of buffers.values()) b.destroy();
  return out;
}
