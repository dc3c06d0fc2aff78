/**
 * xorshift32: a small, seedable, deterministic PRNG for tests (law 6: never Math.random).
 * A zero seed, which xorshift cannot leave, is replaced by a fixed non-zero one.
 */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}
