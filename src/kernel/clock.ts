/**
 * The system clock and id source: the only place kernel code may read wall time or
 * mint random ids (law 6). Everything else takes a `Clock` as a dependency so tests
 * can pass a simulated one.
 */
import {randomBytes} from 'node:crypto';
import type {Clock} from '../ledger/index.js';

/** Wall-clock milliseconds since the Unix epoch. */
export const systemClock: Clock = Object.freeze({now: () => Date.now()});

/** A deterministic clock for tests: starts at `start`, advances only when told. */
export class SimulatedClock implements Clock {
  #t: number;
  constructor(start = 0) {
    if (!Number.isSafeInteger(start) || start < 0) throw new RangeError('start must be a non-negative integer');
    this.#t = start;
  }
  now(): number {
    return this.#t;
  }
  /** Move time forward by `ms` (>= 0). */
  advance(ms: number): void {
    if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError('ms must be a non-negative integer');
    this.#t += ms;
  }
}

/** Source of fresh ids. */
export interface IdSource {
  /** A new id with the given prefix, matching the ledger id grammar. */
  next(prefix: string): string;
}

/** Random bytes from the OS CSPRNG (the only source of randomness the kernel hands out). */
export const systemRandom = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/** Random ids: prefix, '-', 16 hex digits from the OS CSPRNG. */
export const randomIds: IdSource = Object.freeze({
  next: (prefix: string) => `${prefix}-${randomBytes(8).toString('hex')}`,
});
