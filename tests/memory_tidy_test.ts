/**
 * `tidy` scopes under interleaving: async callbacks that await while others run each keep their
 * own tensors (none adopts another's), what each returns joins the scope it was called in,
 * synchronous scopes nest inside async ones, and a callback that outlives its scope does not
 * lose tensors to it. A seeded random schedule of many concurrent scopes checks, at each
 * scope's close, that exactly its own tensors are freed.
 */

import assert from "node:assert/strict";
import { defaultDevice, keep, type Tensor, tensor, tidy } from "../mod.ts";
import { mulberry32 } from "./_reference.ts";

await defaultDevice();

/** Lets other tasks run: `turns` trips through the macrotask queue. */
async function yieldTurns(turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("two interleaved async scopes each free their own tensors, and only theirs", async () => {
  const made: Record<string, Tensor> = {};
  let aClosed = false;
  const a = tidy(async () => {
    made.a1 = tensor([1]);
    await yieldTurns(2); // b opens here, and makes b1
    made.a2 = tensor([2]);
    made.aOut = tensor([3]);
    return made.aOut;
  }).then((t) => {
    aClosed = true;
    // a closed before b: a's tensors are gone though b, opened after a, is still open.
    assert.equal(made.a2.disposed, true, "a2 was not adopted by b's scope");
    assert.equal(made.b1.disposed, false, "b's tensors stay until b closes");
    return t;
  });
  const b = tidy(async () => {
    await yieldTurns(1);
    made.b1 = tensor([4]);
    await yieldTurns(4); // a closes meanwhile
    made.b2 = tensor([5]);
    return null;
  });
  const [aOut] = await Promise.all([a, b]);
  assert.ok(aClosed);
  for (const k of ["a1", "a2", "b1", "b2"]) assert.equal(made[k].disposed, true, k);
  assert.equal(aOut.disposed, false, "what a returned survives");
  assert.deepEqual(await aOut.toArray(), [3]);
  aOut.dispose();
});

Deno.test("a scope that closes first does not free a tensor another returns later", async () => {
  let kept: Tensor | undefined;
  await Promise.all([
    tidy(async () => {
      await yieldTurns(1);
      kept = keep(tensor([7]));
      const out = tensor([8]);
      await yieldTurns(3);
      return out;
    }).then((out) => {
      assert.equal(out.disposed, false);
      out.dispose();
    }),
    tidy(async () => {
      tensor([9]);
      await yieldTurns(2);
    }),
  ]);
  assert.equal(kept!.disposed, false);
  kept!.dispose();
});

Deno.test("sync scopes nest in an async one; results join the scope they were called in", async () => {
  let inner: Tensor | undefined, nested: Tensor | undefined, returned: Tensor | undefined;
  const outer = await tidy(async () => {
    await yieldTurns(1);
    inner = tidy(() => tensor([1, 2]).mul(2)); // survives into the async scope
    nested = await tidy(async () => {
      await yieldTurns(1);
      return tensor([5]);
    });
    assert.equal(inner.disposed, false);
    assert.equal(nested.disposed, false);
    returned = tensor([6]);
    return { returned };
  });
  assert.equal(inner!.disposed, true, "the async scope freed what the sync one handed it");
  assert.equal(nested!.disposed, true, "and what the nested async one returned to it");
  assert.equal(outer.returned.disposed, false);
  outer.returned.dispose();
});

Deno.test("a callback that outlives its scope keeps what it makes", async () => {
  let late: Tensor | undefined;
  let done: () => void;
  const fired = new Promise<void>((resolve) => done = resolve);
  tidy(() => {
    setTimeout(() => {
      late = tensor([1]);
      done();
    }, 5);
  });
  await fired;
  await yieldTurns(2);
  assert.equal(late!.disposed, false, "not freed by the scope that had closed");
  late!.dispose();
});

Deno.test("a random schedule of 24 concurrent scopes: each frees exactly its own at its close", async () => {
  const rng = mulberry32(17);
  const tasks = Array.from({ length: 24 }, (_, k) => {
    const made: Tensor[] = [];
    const turns = Array.from({ length: 3 }, () => Math.floor(rng() * 4));
    const depth = Math.floor(rng() * 3);
    const body = async (level: number): Promise<Tensor> => {
      for (const t of turns) {
        made.push(tensor([k, level]));
        // Synchronous scopes in between, handing a result up.
        made.push(tidy(() => tensor([k]).add(1)));
        await yieldTurns(t);
      }
      if (level < depth) made.push(await tidy(() => body(level + 1)));
      const out = tensor([k, -1]);
      return out;
    };
    return tidy(() => body(0)).then((out) => {
      for (const t of made) assert.equal(t.disposed, true, `task ${k} freed all it made`);
      return out;
    });
  });
  const outs = await Promise.all(tasks);
  for (const [k, out] of outs.entries()) {
    assert.deepEqual(await out.toArray(), [k, -1]);
    out.dispose();
  }
});
