/**
 * Send quotas as token buckets on an injected clock: per key (`actor:<name>`,
 * `principal:<name>`), messages per second and bytes per second, bursts up to one second's
 * worth. `admit` charges every key or none, and says how long to wait when it cannot.
 * Used by the bus for every publish and by the kernel for every capsule `send`.
 */
import type {Clock} from '../ledger/index.js';

export interface QuotaLimits {
  /** Sustained messages per second per key; bursts up to one second's worth. */
  readonly messagesPerSecond: number;
  readonly bytesPerSecond: number;
  readonly maxMessageBytes: number;
}

interface Bucket {
  messages: number;
  bytes: number;
  at: number;
}

export class QuotaBook {
  readonly #clock: Clock;
  readonly #limits: (key: string) => QuotaLimits;
  readonly #buckets = new Map<string, Bucket>();

  constructor(clock: Clock, limits: (key: string) => QuotaLimits) {
    this.#clock = clock;
    this.#limits = limits;
  }

  /** The limits that apply to `key`. */
  limits(key: string): QuotaLimits {
    return this.#limits(key);
  }

  /** 0 when `key` may send one message of `bytes` now, else the milliseconds to wait (nothing is charged). */
  wait(key: string, bytes: number, now = this.#clock.now()): number {
    const limits = this.#limits(key);
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = {messages: limits.messagesPerSecond, bytes: limits.bytesPerSecond, at: now};
      if (this.#buckets.size >= 100_000) this.#buckets.clear(); // bounded: a forgotten bucket is a full one
      this.#buckets.set(key, b);
    }
    const dt = Math.max(0, now - b.at) / 1000;
    b.messages = Math.min(limits.messagesPerSecond, b.messages + dt * limits.messagesPerSecond);
    b.bytes = Math.min(limits.bytesPerSecond, b.bytes + dt * limits.bytesPerSecond);
    b.at = now;
    if (b.messages < 1 || b.bytes < bytes) {
      const waitMsg = b.messages < 1 ? ((1 - b.messages) / limits.messagesPerSecond) * 1000 : 0;
      const waitBytes = b.bytes < bytes ? ((bytes - b.bytes) / limits.bytesPerSecond) * 1000 : 0;
      return Math.ceil(Math.max(waitMsg, waitBytes, 1));
    }
    return 0;
  }

  /** Charge one message of `bytes` to `key` (after `wait` said 0). */
  charge(key: string, bytes: number): void {
    const b = this.#buckets.get(key);
    if (b === undefined) return;
    b.messages -= 1;
    b.bytes -= bytes;
  }

  /**
   * Charge one message of `bytes` to every key, or to none.
   * @returns 0 when charged, else the milliseconds until all keys could take it, and the key that is short.
   */
  admit(keys: readonly string[], bytes: number): {readonly wait: 0} | {readonly wait: number; readonly key: string} {
    const now = this.#clock.now();
    let worst = 0;
    let short = '';
    for (const k of keys) {
      const w = this.wait(k, bytes, now);
      if (w > worst) {
        worst = w;
        short = k;
      }
    }
    if (worst > 0) return {wait: worst, key: short};
    for (const k of keys) this.charge(k, bytes);
    return {wait: 0};
  }
}
