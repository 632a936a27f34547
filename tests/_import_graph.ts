/**
 * The repository's import graph, read from the source: every relative `import`/`export … from`
 * (type-only ones too: a type import still ties two files together for a reader), the layer of
 * each file, the cycles, and the imports that break the layering rules. Shared by
 * `tests/architecture_test.ts` and `tests/_architecture_graph.ts` (which renders the picture in
 * ARCHITECTURE.md), so the rules the test enforces are the ones the document shows.
 *
 * @module
 */

import { dirname, join, relative, resolve } from "node:path";

/** The layers, bottom to top. A file may import its own layer and those below it. */
export const LAYERS = ["kernels", "tensor", "nn", "train", "cli"] as const;

/** One of {@link LAYERS}. */
export type Layer = typeof LAYERS[number];

/** Layer pairs that are forbidden although they point downward: `[from, to]`. */
export const FORBIDDEN: readonly (readonly [Layer, Layer])[] = [
  ["nn", "kernels"],
  ["train", "kernels"],
];

/** Files and folders outside the library's layers: they may import anything. */
const UNLAYERED = ["tests/", "bench/", ".ci/", "node_modules/", ".device/", "runs/"];

/** The layer of a repository-relative path, or null for tests, benches and tools. */
export function layerOf(path: string): Layer | null {
  if (UNLAYERED.some((prefix) => path.startsWith(prefix))) return null;
  if (path === "mod.ts") return "tensor"; // the root entry is the tensor API
  if (path === "cli.ts" || path.startsWith("cli/") || path.startsWith("train/cli/")) return "cli";
  const top = path.split("/")[0];
  return (LAYERS as readonly string[]).includes(top) ? top as Layer : null;
}

/** Repository-relative path → the repository-relative paths it imports. */
export type ImportGraph = Map<string, string[]>;

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/g;
const SIDE_EFFECT = /(?:^|\n)\s*import\s*["']([^"']+)["']/g;

/** Reads every `.ts` file under `root` (skipping the unlayered tool folders' dependencies). */
export async function readImportGraph(root: string): Promise<ImportGraph> {
  const graph: ImportGraph = new Map();
  for await (const path of walk(root, "")) {
    const text = stripComments(await Deno.readTextFile(join(root, path)));
    const targets = new Set<string>();
    for (const pattern of [IMPORT, SIDE_EFFECT]) {
      for (const match of text.matchAll(pattern)) {
        const specifier = match[1];
        if (!specifier.startsWith(".")) continue;
        targets.add(relative(root, resolve(root, dirname(path), specifier)));
      }
    }
    graph.set(path, [...targets].sort());
  }
  return graph;
}

async function* walk(root: string, dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(join(root, dir))) {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      yield* walk(root, path);
    } else if (entry.isFile && path.endsWith(".ts")) {
      yield path;
    }
  }
}

/** Removes comments, so that an import quoted in a doc example is not taken for a real one. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

/** Every elementary cycle's files, found by Tarjan's strongly connected components. */
export function findCycles(graph: ImportGraph): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfLoop = (graph.get(v) ?? []).includes(v);
      if (component.length > 1 || selfLoop) components.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indices.has(v)) visit(v);
  return components;
}

/** An import that breaks the layering: upward, or one of {@link FORBIDDEN}. */
export interface LayerViolation {
  /** The importing file. */
  from: string;
  /** The imported file. */
  to: string;
  /** Why it is not allowed. */
  reason: string;
}

/** Every import between layers that points upward or is forbidden. */
export function layerViolations(graph: ImportGraph): LayerViolation[] {
  const out: LayerViolation[] = [];
  for (const [from, targets] of graph) {
    const a = layerOf(from);
    if (a === null) continue;
    for (const to of targets) {
      const b = layerOf(to);
      if (b === null) {
        out.push({ from, to, reason: `${a} imports a file outside the library` });
      } else if (LAYERS.indexOf(b) > LAYERS.indexOf(a)) {
        out.push({ from, to, reason: `${a} imports upward into ${b}` });
      } else if (FORBIDDEN.some(([x, y]) => x === a && y === b)) {
        out.push({ from, to, reason: `${a} never imports ${b}` });
      }
    }
  }
  return out;
}
