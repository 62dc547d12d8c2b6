// float32 -> IEEE half with round-to-nearest-even (src/model/float16.ts), against known bit patterns
// and, exhaustively, against every midpoint between neighbouring halves.
import { describe, expect, it } from 'vitest';
import { fromFloat16, fromHalf, toFloat16, toHalf } from '../src/model/float16.ts';

/** The float32 just above / below `x` (x finite, not 0). */
function nextF32(x: number, up: boolean): number {
  const f = Float32Array.of(x);
  const u = new Uint32Array(f.buffer);
  u[0] = u[0]! + (x > 0 === up ? 1 : -1);
  return f[0]!;
}

describe('float16 conversion', () => {
  it('gives the known bit patterns', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff], // the largest half
      [65519.99, 0x7bff], // below the halfway point to 65536: still the largest
      [65520, 0x7c00], // the halfway point ties to even, which is infinity
      [1e6, 0x7c00],
      [-1e6, 0xfc00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], // the smallest normal
      [2 ** -24, 0x0001], // the smallest subnormal
      [2 ** -25, 0x0000], // halfway to it: ties to even, 0
      [nextF32(2 ** -25, true), 0x0001],
      [-(2 ** -26), 0x8000],
      [3 * 2 ** -25, 0x0002], // 1.5 subnormal steps: ties to even, 2
      [5 * 2 ** -25, 0x0002], // 2.5 steps: ties to even, 2
      [1023 * 2 ** -24, 0x03ff], // the largest subnormal
      [2 ** -14 - 2 ** -26, 0x0400], // halfway from it to the smallest normal: rounds up into the normals
      [1 + 2 ** -11, 0x3c00], // halfway between 1 and the next half: even (1)
      [1 + 3 * 2 ** -11, 0x3c02], // halfway between 1+2^-10 and 1+2^-9: even (up)
      [nextF32(1 + 2 ** -11, true), 0x3c01],
      [0.1, 0x2e66],
      [Math.PI, 0x4248],
    ];
    for (const [x, bits] of cases) expect(toHalf(x).toString(16), String(x)).toBe(bits.toString(16));
  });

  it('keeps NaN a NaN, payload or not', () => {
    const f = new Float32Array(3);
    const u = new Uint32Array(f.buffer);
    u[0] = 0x7fc00000; // the quiet NaN
    u[1] = 0x7f800001; // a signalling NaN whose payload is only in the low bits
    u[2] = 0xffc00000;
    for (const h of toFloat16(f)) {
      expect(h & 0x7c00).toBe(0x7c00);
      expect(h & 0x3ff).not.toBe(0);
    }
    expect(fromHalf(0x7e00)).toBeNaN();
  });

  it('round-trips every half, and rounds every midpoint between neighbours to the even one', () => {
    const halves = Uint16Array.from({ length: 0x7c00 }, (_, h) => h); // every finite non-negative half
    const values = fromFloat16(halves);
    expect(Array.from(toFloat16(values))).toEqual(Array.from(halves));
    const negative = toFloat16(values.map((v) => -v));
    expect(negative.every((h, i) => h === (halves[i]! | 0x8000))).toBe(true);
    const mids: number[] = [];
    const want: number[] = [];
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (values[h]! + values[h + 1]!) / 2; // exact in float32: 12 significant bits
      mids.push(mid, nextF32(mid, false), nextF32(mid, true));
      want.push(h % 2 === 0 ? h : h + 1, h, h + 1);
    }
    const got = toFloat16(Float32Array.from(mids));
    expect(Float32Array.from(mids)).toEqual(Float32Array.from(mids.map((m) => Math.fround(m))));
    const wrong = want.flatMap((w, i) => (got[i] === w ? [] : [`${mids[i]} -> ${got[i]!.toString(16)}, want ${w.toString(16)}`]));
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('reads a view at an offset (a subarray of a larger buffer)', () => {
    const all = Float32Array.of(9, 1, -2, 0.5);
    expect(Array.from(toFloat16(all.subarray(1)))).toEqual([0x3c00, 0xc000, 0x3800]);
  });
});
