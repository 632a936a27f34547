/**
 * The same convolution work in two peer libraries on the same WebGPU adapter: TensorFlow.js's
 * WebGPU backend and jax-js. Each measures forward plus both gradients of `sum(conv(x, w))`,
 * which is the work `ours` measures with our three kernels. Benchmark-only dependencies.
 *
 * @module
 */

import type { Conv2dGeometry } from "../kernels/conv2d.ts";
import { conv2dOutputSize } from "../kernels/conv2d.ts";

/** A peer's time per iteration (forward + both gradients), or why it could not run. */
export interface PeerTiming {
  ms: number | null;
  error?: string;
}

type Runner = (g: Conv2dGeometry, iterations: number) => Promise<PeerTiming>;

/** TensorFlow.js (webgpu backend), NHWC; grouped convolutions run group by group. */
export async function tfjsRunner(): Promise<Runner> {
  const tf = await import("@tensorflow/tfjs");
  await import("@tensorflow/tfjs-backend-webgpu");
  await tf.setBackend("webgpu");
  await tf.ready();
  return async (g, iterations) => {
    const cg = g.inChannels / g.groups, og = g.outChannels / g.groups;
    const x = tf.randomNormal([
      g.batch,
      g.height,
      g.width,
      g.inChannels,
    ]) as import("@tensorflow/tfjs").Tensor4D;
    const w = tf.randomNormal(
      [g.kernelH, g.kernelW, cg, g.outChannels],
      0,
      0.01,
    ) as import("@tensorflow/tfjs").Tensor4D;
    const pad = g.padH === 0 ? "valid" : g.padH;
    const f = (xi: import("@tensorflow/tfjs").Tensor, wi: import("@tensorflow/tfjs").Tensor) => {
      const xs = g.groups === 1 ? [xi] : tf.split(xi, g.groups, 3);
      const ws = g.groups === 1 ? [wi] : tf.split(wi, g.groups, 3);
      const ys = xs.map((xg, i) =>
        tf.conv2d(
          xg as import("@tensorflow/tfjs").Tensor4D,
          ws[i] as import("@tensorflow/tfjs").Tensor4D,
          [g.strideH, g.strideW],
          pad,
        )
      );
      return tf.sum(g.groups === 1 ? ys[0] : tf.concat(ys, 3));
    };
    void og;
    const step = tf.grads(f);
    const once = async () => {
      const grads = step([x, w]);
      await Promise.all(grads.map((t) => t.data()));
      tf.dispose(grads);
    };
    await once();
    const start = performance.now();
    for (let i = 0; i < iterations; i++) {
      const grads = step([x, w]);
      if (i === iterations - 1) await Promise.all(grads.map((t) => t.data()));
      tf.dispose(grads);
    }
    const ms = (performance.now() - start) / iterations;
    tf.dispose([x, w]);
    return { ms };
  };
}

/** jax-js (webgpu device), NCHW with feature groups, jit-compiled gradient. */
export async function jaxRunner(): Promise<Runner> {
  const jax = await import("@jax-js/jax");
  await jax.init("webgpu");
  jax.defaultDevice("webgpu");
  const { lax, numpy: np, random } = jax;
  return async (g, iterations) => {
    const key = random.key(0);
    const [k1, k2] = random.split(key, 2) as unknown as [typeof key, typeof key];
    const x = random.normal(k1, [g.batch, g.inChannels, g.height, g.width]);
    const w = random.normal(k2, [g.outChannels, g.inChannels / g.groups, g.kernelH, g.kernelW]);
    const f = (xi: typeof x, wi: typeof w) =>
      np.sum(
        lax.convGeneralDilated(
          xi,
          wi,
          [g.strideH, g.strideW],
          [[g.padH, g.padH], [g.padW, g.padW]],
          {
            featureGroupCount: g.groups,
          },
        ),
      );
    const step = jax.jit(jax.grad(f, { argnums: [0, 1] }));
    const once = async () => {
      const [gx, gw] = step(x.ref, w.ref) as unknown as [typeof x, typeof w];
      await gx.data();
      await gw.data();
    };
    await once();
    const start = performance.now();
    for (let i = 0; i < iterations; i++) await once();
    const ms = (performance.now() - start) / iterations;
    x.dispose();
    w.dispose();
    return { ms };
  };
}

/** Times one peer on every geometry, catching failures so the bench still reports the rest. */
export async function benchPeer(
  make: () => Promise<Runner>,
  geometries: { name: string; g: Conv2dGeometry }[],
  iterations: number,
): Promise<Map<string, PeerTiming>> {
  const out = new Map<string, PeerTiming>();
  let run: Runner;
  try {
    run = await make();
  } catch (error) {
    for (const { name } of geometries) out.set(name, { ms: null, error: String(error) });
    return out;
  }
  for (const { name, g } of geometries) {
    try {
      conv2dOutputSize(g);
      out.set(name, await run(g, iterations));
    } catch (error) {
      out.set(name, { ms: null, error: String(error).slice(0, 200) });
    }
  }
  return out;
}
