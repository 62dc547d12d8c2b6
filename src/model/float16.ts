/**
 * IEEE 754 binary16 ("half") bit patterns, as ONNX float16 initializers and ONNX Runtime's
 * float16 tensors hold them (Uint16Array: Node 20 has no Float16Array).
 *
 * float32 -> half rounds to nearest, ties to even, on the bits: a float32 is exact, so rounding it
 * once gives the half nearest to the checkpoint's value (BF16 and F16 checkpoints widen to float32
 * exactly; F16 ones come back bit for bit). Going through a float64 `Math.round` would round twice.
 *   - past the largest half (65504, up to its rounding halfway point 65520): infinity, signed;
 *   - below the smallest normal (2^-14): a subnormal, rounded the same way, 0 below 2^-25;
 *   - NaN stays NaN (the quiet bit set, so a payload only in low bits cannot turn into infinity).
 */

const F32 = new Float32Array(1);
const F32_BITS = new Uint32Array(F32.buffer);

/** The half bit pattern nearest to the float32 whose bits are `b`. */
function halfBits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  // The half exponent, biased by 15.
  const e = exp - 112;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // A subnormal half m · 2^-24 from the full 24-bit significand: drop 14 - e bits, rounding.
    const full = mant | 0x800000;
    const shift = 14 - e;
    const kept = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    // A carry into bit 10 gives the smallest normal, which is the right encoding.
    return sign | (rest > halfway || (rest === halfway && (kept & 1) === 1) ? kept + 1 : kept);
  }
  const h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent; out of the largest exponent it gives infinity.
  return sign | (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1) ? h + 1 : h);
}

/** The half nearest to `x` (taken as float32 first: what a Float32Array would hold). */
export function toHalf(x: number): number {
  F32[0] = x;
  return halfBits(F32_BITS[0]!);
}

/** float32 values as half bit patterns, element by element. */
export function toFloat16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfBits(bits[i]!);
  return out;
}

/** The value of a half bit pattern (exact: every half is a float32). */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac !== 0 ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Half bit patterns as float32 values. */
export function fromFloat16(bits: Uint16Array): Float32Array {
  return Float32Array.from(bits, fromHalf);
}
