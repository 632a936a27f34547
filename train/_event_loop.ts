/**
 * Lets the event loop run during a long chain of awaits that never wait on I/O.
 *
 * A training step records GPU work and awaits only promises that resolve at once, so signal
 * listeners (Ctrl-C, SIGTERM) would not run until the next readback, up to `logEvery` steps
 * later. A zero-delay timer makes the loop poll for events; it costs about a millisecond, so
 * it is taken at most every `everyMs`.
 *
 * @module
 */

/** A throttled turn of the event loop (see the module doc). */
export class EventLoopTurns {
  #last = performance.now();
  readonly #everyMs: number;

  /** Turns at most every `everyMs` milliseconds (default 100). */
  constructor(everyMs = 100) {
    this.#everyMs = everyMs;
  }

  /** Resolves after one turn of the event loop, or at once if one was taken recently. */
  async maybeTurn(): Promise<void> {
    if (performance.now() - this.#last < this.#everyMs) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.#last = performance.now();
  }
}
