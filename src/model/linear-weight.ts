/**
 * torch Linear weights [out, in] as a projection's weight, each part optionally scaled and its rows
 * and columns reordered, several parts together (a fused q|k|v projection): transposed side by side
 * as an ONNX MatMul's B [in, out], or stacked in torch's own layout, which MatMulNBits quantizes.
 * The transpose goes tile by tile, so that both the rows read and the rows written stay in cache:
 * a row-at-a-time transpose writes with a stride of the whole output row, one cache miss per value,
 * which is what bounds building a large model's graph.
 */

/** One torch Linear weight [out, in] and how it enters the MatMul weight. */
export interface LinearPart {
  /** [out, in] row-major. */
  data: Float32Array;
  out: number;
  scale?: number;
  /** Output column o of this part takes source row rows[o] (default o). */
  rows?: readonly number[];
  /** Input row k takes source column cols[k] (default k). */
  cols?: readonly number[];
}

const TILE = 64;

function checkShape(part: LinearPart, inp: number): void {
  if (part.data.length !== part.out * inp) throw new Error(`linear weight: ${part.data.length} values, expected ${part.out} x ${inp}`);
}

/** Writes `part` in torch's layout into `w` [total, inp] at rows row.. row + part.out. */
export function stackInto(w: Float32Array, row: number, part: LinearPart, inp: number): void {
  checkShape(part, inp);
  const { data, out, scale = 1, rows, cols } = part;
  for (let o = 0; o < out; o++) {
    const from = (rows?.[o] ?? o) * inp;
    const to = (row + o) * inp;
    for (let c = 0; c < inp; c++) w[to + c] = data[from + (cols?.[c] ?? c)]! * scale;
  }
}

/** Writes `part` transposed into `w` [inp, total] at columns col.. col + part.out. */
export function transposeInto(w: Float32Array, total: number, col: number, part: LinearPart, inp: number): void {
  checkShape(part, inp);
  const { data, out, scale = 1, rows, cols } = part;
  const rowStart = Int32Array.from({ length: out }, (_, o) => (rows?.[o] ?? o) * inp);
  for (let k0 = 0; k0 < inp; k0 += TILE) {
    const kEnd = Math.min(inp, k0 + TILE);
    for (let o0 = 0; o0 < out; o0 += TILE) {
      const oEnd = Math.min(out, o0 + TILE);
      for (let k = k0; k < kEnd; k++) {
        const from = cols?.[k] ?? k;
        const to = k * total + col;
        for (let o = o0; o < oEnd; o++) w[to + o] = data[rowStart[o]! + from]! * scale;
      }
    }
  }
}
