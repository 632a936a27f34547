/**
 * The backward walk around a node that waits for the host (a transfer between devices), on a
 * fake graph whose nodes log when they run: the nodes the transfer's backward needs run before
 * it, and the nodes it does not need run inside its `whileWaiting` (while its copies wait), not
 * after it.
 */

import assert from "node:assert/strict";
import type { RawTensor } from "../tensor/_core.ts";
import { type GradNode, type GraphAccess, runBackward } from "../tensor/_autograd.ts";

/** A gradient that nothing reads: the walk only aliases and disposes it. */
const fakeGrad = (): RawTensor => ({ alias: fakeGrad, dispose() {} }) as unknown as RawTensor;

/**
 * A graph over tensor names: `nodes[name] = [inputs, waits, withheld]`; names without a node are
 * leaves. Each node's backward logs its name (a waiting one logs its start, calls
 * `whileWaiting`, then logs its end) and returns a gradient for every input but `withheld` (so
 * that no gradient needs adding up: the fake gradients hold no data).
 */
function fakeGraph(nodes: Record<string, [string[], boolean?, string?]>, log: string[]) {
  const made = new Map<string, GradNode<string>>();
  for (const [name, [inputs, waits, withheld]] of Object.entries(nodes)) {
    const grads = () => inputs.map((input) => (input === withheld ? null : fakeGrad()));
    made.set(name, {
      op: name,
      inputs,
      waits,
      backward: (_grad, _fold, whileWaiting) => {
        if (!waits) {
          log.push(name);
          return grads();
        }
        log.push(`${name} copies`);
        whileWaiting();
        return Promise.resolve().then(() => {
          log.push(`${name} arrived`);
          return grads();
        });
      },
      release() {},
    });
  }
  const graph: GraphAccess<string> = {
    node: (t) => made.get(t) ?? null,
    freed: () => false,
    requiresGrad: () => true,
    clear: (t) => made.delete(t),
    accumulate() {},
    describe: (t) => t,
  };
  return graph;
}

Deno.test("the nodes a transfer's backward does not need run while it waits", async () => {
  // Tower A's layer after a cut: its own-input part `own` and its part over the copy `remote`.
  // `below` made the source `a` (the copy goes elsewhere; its gradient comes back).
  const log: string[] = [];
  const graph = fakeGraph({
    out: [["own", "remote"]],
    own: [["a", "w"], false, "a"],
    remote: [["copy", "w"]],
    copy: [["token"]],
    token: [["a"], true],
    a: [["below"]],
  }, log);
  await runBackward("out", fakeGrad(), graph);
  assert.deepEqual(log, [
    "out",
    "remote",
    "copy",
    "token copies",
    "own", // needs nothing from the token: runs while it waits
    "token arrived",
    "a", // needs the gradient that comes back
  ]);
});

Deno.test("a second waiting node and what it needs wait for their turn", async () => {
  const log: string[] = [];
  const graph = fakeGraph({
    out: [["x", "y"]],
    x: [["t1"]],
    t1: [["s"], true],
    y: [["t2"]],
    t2: [["z"], true],
    z: [["s"]],
  }, log);
  await runBackward("out", fakeGrad(), graph);
  // Whichever transfer goes first, the other one and `z` (which it needs) run after it.
  const first = log.indexOf("t1 copies") < log.indexOf("t2 copies") ? "t1" : "t2";
  const second = first === "t1" ? "t2" : "t1";
  assert.ok(log.indexOf(`${second} copies`) > log.indexOf(`${first} arrived`), log.join(" "));
  if (second === "t2") assert.ok(log.indexOf("z") > log.indexOf("t2 arrived"), log.join(" "));
});
