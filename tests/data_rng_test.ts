import assert from "node:assert/strict";
import { Rng } from "../train/data/rng.ts";

Deno.test("Rng", async (t) => {
  await t.step("same seed, same stream; different seeds or streams differ", () => {
    const a = new Rng(5, 1), b = new Rng(5, 1), c = new Rng(5, 2), d = new Rng(6, 1);
    const seq = (r: Rng) => Array.from({ length: 8 }, () => r.nextU32());
    const sa = seq(a);
    assert.deepEqual(sa, seq(b));
    assert.notDeepEqual(sa, seq(c));
    assert.notDeepEqual(sa, seq(d));
    assert.notDeepEqual(seq(new Rng(5)), seq(new Rng(5, 0)));
  });

  await t.step("state() / restore() reproduce the continuation, through JSON", () => {
    const r = new Rng(123);
    for (let i = 0; i < 10; i++) r.next();
    const saved = JSON.parse(JSON.stringify(r.state()));
    const want = [r.next(), r.normal(), r.int(17), r.nextU32()];
    const q = new Rng(999);
    q.restore(saved);
    assert.deepEqual([q.next(), q.normal(), q.int(17), q.nextU32()], want);
    assert.throws(() => q.restore([0, 0, 0, 0]), RangeError);
    assert.throws(() => q.restore([1, 2, 3] as unknown as [number, number, number, number]));
  });

  await t.step("uniform, int and normal have the right statistics", () => {
    const r = new Rng(7);
    const n = 100_000;
    let s = 0, s2 = 0, lo = 1, hi = 0;
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < n; i++) {
      const u = r.next();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      counts[r.int(6)]++;
      const z = r.normal(2, 3);
      s += z;
      s2 += z * z;
    }
    assert.ok(lo >= 0 && hi < 1);
    for (const c of counts) assert.ok(Math.abs(c / n - 1 / 6) < 0.01, `int bucket ${c}`);
    const mean = s / n, std = Math.sqrt(s2 / n - mean * mean);
    assert.ok(Math.abs(mean - 2) < 0.05, `normal mean ${mean}`);
    assert.ok(Math.abs(std - 3) < 0.05, `normal std ${std}`);
    assert.throws(() => r.int(0), RangeError);
    assert.throws(() => new Rng(1.5), RangeError);
  });
});
