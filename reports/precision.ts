/**
 * A run's weight precision as the report names and orders it. Runs stored before precisions existed
 * (and every fp32 run since: fp32 is left out of the run identity so its ids did not change) read as
 * fp32 (src/store/summary-reads.ts), and fp32 keeps the labels those studies always had.
 */

export const FP32 = 'fp32';

/** The order rows take: the reference first, then by falling precision. */
export const PRECISION_ORDER: readonly string[] = [FP32, 'fp16', 'int8', 'int4'];

/** What tells one precision of a run from another: the precision and, for int8/int4 at a non-default size, the block size. */
export interface PrecisionOf {
  precision: string;
  block_size: number | null;
}

export const FP32_PRECISION: PrecisionOf = { precision: FP32, block_size: null };

/** `int8`, `int4/64` (block size 64); the block size only where it was stored, i.e. not the default. */
export function precisionLabel(p: PrecisionOf): string {
  return p.block_size === null ? p.precision : `${p.precision}/${p.block_size}`;
}

/** Sorts precisions as PRECISION_ORDER, one written by a later flexibench after those, then by block size (default first). */
export function byPrecision(a: PrecisionOf, b: PrecisionOf): number {
  const rank = (p: PrecisionOf): number => {
    const i = PRECISION_ORDER.indexOf(p.precision);
    return i < 0 ? PRECISION_ORDER.length : i;
  };
  return rank(a) - rank(b) || a.precision.localeCompare(b.precision) || (a.block_size ?? 0) - (b.block_size ?? 0);
}

export const isFp32 = (p: PrecisionOf): boolean => p.precision === FP32;
