/** One sequence's KV cache buffers, as DecoderSession.step reads and extends them, and how they grow. */
import type * as ort from 'onnxruntime-node';

/**
 * The KV cache of one sequence: per layer and kind a buffer [1,1,kvH,capacity,hd] whose first `length`
 * slots of each head are filled. A step reads the buffers in place and writes only the new rows into
 * them, growing the buffers (by an eighth, at least 64 slots) when they are full.
 */
export interface KvCache {
  /** Tokens already in the cache. */
  length: number;
  /** past.{i}.key / past.{i}.value buffers, [1, 1, kvH, capacity, hd]. */
  tensors: Record<string, ort.Tensor>;
  capacity: number;
  /**
   * Slots filled in these buffers by any step, shared by every cache on them: a cache shorter than
   * this was already extended once, so extending it again copies the buffers instead of overwriting
   * the other extension's rows.
   */
  readonly buffers: { filled: number };
}

/** Slots to allocate for `needed`: an eighth more (at least 64), in multiples of 64, within the model's positions. */
export function grownCapacity(needed: number, maxPositions: number): number {
  return Math.max(needed, Math.min(maxPositions, Math.ceil((needed + Math.max(64, needed >> 3)) / 64) * 64));
}

/**
 * Copies the first `slots` slots of every head from `from`, laid out [kvH, fromSlots, hd], into
 * `to`, laid out [kvH, toSlots, hd], starting at slot `at`: how a cache grows, takes a step's new
 * rows, or moves into a batch's row (pass that row's subarray).
 */
export function copyHeadSlots(
  from: Float32Array,
  fromSlots: number,
  to: Float32Array,
  toSlots: number,
  slots: number,
  at: number,
  kvH: number,
  hd: number,
): void {
  for (let h = 0; h < kvH; h++) to.set(from.subarray(h * fromSlots * hd, (h * fromSlots + slots) * hd), (h * toSlots + at) * hd);
}
