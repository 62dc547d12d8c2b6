/**
 * The project's seeded pseudo-random generator: sfc32 seeded through splitmix32. Only 32-bit
 * integer arithmetic (Math.imul, >>> 0), so a seed gives the same stream on every machine and
 * Node version, and the algorithm is short enough to mirror in Python if ever needed.
 * Not for cryptography.
 */

function splitmix32(state: number): [next: number, output: number] {
  const next = (state + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [next, (z ^ (z >>> 16)) >>> 0];
}

export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed`: any safe integer >= 0; both 32-bit halves feed the state. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative safe integer, got ${seed}`);
    let state = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32), 0x9e3779b1);
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(state);
      state = next;
      words.push(out);
    }
    [this.a, this.b, this.c, this.d] = words as [number, number, number, number];
    // Discard the first outputs: sfc32 mixes slowly from a fresh state.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = (this.b ^ (this.b >>> 9)) >>> 0;
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform integer in [lo, hi] (inclusive), without modulo bias. */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi < lo) throw new Error(`bad range [${lo}, ${hi}]`);
    const range = hi - lo + 1;
    if (range > 2 ** 32) throw new Error(`range [${lo}, ${hi}] wider than 2^32`);
    const limit = Math.floor(2 ** 32 / range) * range;
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return lo + (x % range);
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Fisher-Yates shuffle in place; a prefix of the result is a uniform sample without replacement. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
    return items;
  }
}
