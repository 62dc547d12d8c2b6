import { describe, expect, it } from 'vitest';
import { stackInto, transposeInto, type LinearPart } from '../src/model/linear-weight.ts';

/** One Linear weight [out, in] as MatMul's B [in, out]. */
function linearWeight(part: LinearPart, inp: number): Float32Array {
  const w = new Float32Array(inp * part.out);
  transposeInto(w, part.out, 0, part, inp);
  return w;
}
import { SeededRandom } from '../src/seeded-random.ts';

/** The definition, one value at a time: B[k][col + o] = W[rows[o]][cols[k]] * scale. */
function naive(
  w: Float32Array,
  total: number,
  col: number,
  data: Float32Array,
  out: number,
  inp: number,
  scale: number,
  rows?: number[],
  cols?: number[],
): void {
  for (let o = 0; o < out; o++) for (let k = 0; k < inp; k++) w[k * total + col + o] = data[(rows?.[o] ?? o) * inp + (cols?.[k] ?? k)]! * scale;
}

const random = (n: number, rng: SeededRandom): Float32Array => Float32Array.from({ length: n }, () => rng.nextUint32() / 2 ** 32 - 0.5);
const permutation = (n: number, rng: SeededRandom): number[] => {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
};

describe('linear weights as MatMul initializers', () => {
  it('tile by tile equals the definition, across tile edges, with scale and both reorderings', () => {
    const rng = new SeededRandom(5);
    // Sizes below, at and past the 64-wide tile, and not multiples of it.
    for (const [out, inp] of [
      [1, 1],
      [3, 70],
      [64, 64],
      [130, 67],
    ] as const) {
      const data = random(out * inp, rng);
      const rows = permutation(out, rng);
      const cols = permutation(inp, rng);
      const want = new Float32Array(inp * out);
      naive(want, out, 0, data, out, inp, 0.125, rows, cols);
      const got = new Float32Array(inp * out);
      transposeInto(got, out, 0, { data, out, scale: 0.125, rows, cols }, inp);
      expect(got).toEqual(want);
      const plain = new Float32Array(inp * out);
      naive(plain, out, 0, data, out, inp, 1);
      expect(linearWeight({ data, out }, inp)).toEqual(plain);
      // Not the identity: the test would pass on a copy otherwise.
      if (out > 1) expect(linearWeight({ data, out }, inp)).not.toEqual(data);
    }
  });

  it('parts side by side land in their own columns', () => {
    const rng = new SeededRandom(6);
    const inp = 70;
    const parts = [
      { data: random(96 * inp, rng), out: 96, scale: 0.5 },
      { data: random(32 * inp, rng), out: 32, scale: 1 },
    ];
    const total = 128;
    const want = new Float32Array(inp * total);
    const got = new Float32Array(inp * total);
    let col = 0;
    for (const p of parts) {
      naive(want, total, col, p.data, p.out, inp, p.scale);
      transposeInto(got, total, col, p, inp);
      col += p.out;
    }
    expect(got).toEqual(want);
  });

  it("stacked in torch's layout: row r of a part is its source row rows[r], columns reordered and scaled", () => {
    const rng = new SeededRandom(7);
    const inp = 70;
    const a = { data: random(96 * inp, rng), out: 96, scale: 0.5, rows: permutation(96, rng), cols: permutation(inp, rng) };
    const b = { data: random(32 * inp, rng), out: 32 };
    const got = new Float32Array(128 * inp);
    stackInto(got, 0, a, inp);
    stackInto(got, 96, b, inp);
    for (let o = 0; o < 96; o++) for (let c = 0; c < inp; c++) expect(got[o * inp + c]).toBe(a.data[a.rows[o]! * inp + a.cols[c]!]! * 0.5);
    expect(got.subarray(96 * inp)).toEqual(b.data);
    expect(() => stackInto(got, 0, { data: new Float32Array(10), out: 3 }, 3)).toThrow('linear weight: 10 values, expected 3 x 3');
  });

  it('refuses data that does not match the shape', () => {
    expect(() => linearWeight({ data: new Float32Array(10), out: 3 }, 3)).toThrow('linear weight: 10 values, expected 3 x 3');
  });
});
