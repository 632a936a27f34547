/**
 * Renders the import graph that ARCHITECTURE.md shows, from the code (the same reading of the
 * imports as `tests/architecture_test.ts`): the layers with the number of file-to-file imports
 * between them, and the files of `tensor/` with their imports, as Mermaid.
 *
 * `deno run -A tests/_architecture_graph.ts` prints both blocks; with `--write` it replaces
 * them in ARCHITECTURE.md (between the `graph:` markers).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { type ImportGraph, layerOf, LAYERS, readImportGraph } from "./_import_graph.ts";

/** Mermaid of the layers: each arrow is labelled with how many file imports cross it. */
export function layerMermaid(graph: ImportGraph): string {
  const counts = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [from, targets] of graph) {
    const a = layerOf(from);
    if (a === null) continue;
    files.set(a, (files.get(a) ?? 0) + 1);
    for (const to of targets) {
      const b = layerOf(to);
      if (b === null || b === a) continue;
      const key = `${a} --> ${b}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  const lines = ["flowchart BT"];
  for (const layer of LAYERS) {
    lines.push(`  ${layer}["${layer}/ (${files.get(layer) ?? 0} files)"]`);
  }
  const order = (key: string) => key.split(" --> ").map((l) => LAYERS.indexOf(l as never));
  const edges = [...counts].sort(([x], [y]) => {
    const [a1, b1] = order(x), [a2, b2] = order(y);
    return a1 - a2 || b1 - b2;
  });
  for (const [key, n] of edges) lines.push(`  ${key.replace(" --> ", ` -- ${n} --> `)}`);
  return lines.join("\n");
}

/** The tiers inside `tensor/`, bottom to top, and the files of each. */
export const TENSOR_TIERS: readonly (readonly [string, (file: string) => boolean])[] = [
  ["data and checks", (f) => ["_core.ts", "shape.ts", "memory.ts", "options.ts"].includes(f)],
  ["primitives (kernels)", (f) => f.startsWith("_primitives")],
  ["rules (forward + backward)", (f) => f.startsWith("_rules/")],
  [
    "Tensor and autograd",
    (f) => f === "tensor.ts" || f.startsWith("_tensor_") || f === "_autograd.ts",
  ],
  ["public API", () => true],
];

function tierOf(file: string): number {
  return TENSOR_TIERS.findIndex(([, member]) => member(file));
}

/**
 * Mermaid of `tensor/` by tier: each tier lists its files; each arrow is labelled with how many
 * file imports go from one tier to a lower one (`kernels/` is the bottom).
 */
export function tensorMermaid(graph: ImportGraph): string {
  const files = [...graph.keys()].filter((p) => p.startsWith("tensor/")).map((p) => p.slice(7));
  const lines = ["flowchart BT", '  t_kernels[["kernels/"]]'];
  TENSOR_TIERS.forEach(([name], i) => {
    const members = files.filter((f) => tierOf(f) === i).sort();
    lines.push(`  t${i}["<b>${name}</b><br/>${members.join("<br/>")}"]`);
  });
  const counts = new Map<string, number>();
  for (const file of files) {
    for (const to of graph.get(`tensor/${file}`) ?? []) {
      const target = to.startsWith("kernels/")
        ? "t_kernels"
        : to.startsWith("tensor/")
        ? `t${tierOf(to.slice(7))}`
        : null;
      const source = `t${tierOf(file)}`;
      if (target === null || target === source) continue;
      const key = `${source} --> ${target}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  for (const [key, n] of [...counts].sort()) {
    lines.push(`  ${key.replace(" --> ", ` -- ${n} --> `)}`);
  }
  return lines.join("\n");
}

/** Replaces the block after the marker `<!-- graph: name -->` in `text`. */
export function replaceBlock(text: string, name: string, mermaid: string): string {
  const marker = `<!-- graph: ${name} -->`;
  const start = text.indexOf(marker);
  if (start < 0) throw new Error(`ARCHITECTURE.md has no ${marker}`);
  const open = text.indexOf("```mermaid\n", start);
  const close = text.indexOf("\n```", open + 10);
  return text.slice(0, open + 11) + mermaid + text.slice(close);
}

/** The block after the marker `<!-- graph: name -->` in `text`. */
export function readBlock(text: string, name: string): string {
  const start = text.indexOf(`<!-- graph: ${name} -->`);
  const open = text.indexOf("```mermaid\n", start);
  return text.slice(open + 11, text.indexOf("\n```", open + 10));
}

if (import.meta.main) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const graph = await readImportGraph(root);
  const blocks = { layers: layerMermaid(graph), tensor: tensorMermaid(graph) };
  if (Deno.args.includes("--write")) {
    const path = `${root}/ARCHITECTURE.md`;
    let text = await Deno.readTextFile(path);
    for (const [name, mermaid] of Object.entries(blocks)) text = replaceBlock(text, name, mermaid);
    await Deno.writeTextFile(path, text);
  } else {
    for (const [name, mermaid] of Object.entries(blocks)) {
      console.log(`<!-- graph: ${name} -->\n\`\`\`mermaid\n${mermaid}\n\`\`\`\n`);
    }
  }
}
