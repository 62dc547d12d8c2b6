/**
 * The held-out rules of tasks/FORMATS.md, exported so the training side (training/) can mirror
 * them exactly: evaluation draws only items these functions accept, training only the others.
 */

/** FNV-1a 32-bit over the UTF-8 bytes of `text`, as an unsigned integer. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** An arithmetic pair (a, b) belongs to evaluation iff fnv1a32(`${a},${b}`) % 3 === 0. */
export function isEvaluationPair(a: number, b: number): boolean {
  return fnv1a32(`${a},${b}`) % 3 === 0;
}

/** A repetition sequence belongs to evaluation iff fnv1a32(numbers joined by single spaces) % 3 === 0. */
export function isEvaluationSequence(numbers: readonly number[]): boolean {
  return fnv1a32(numbers.join(' ')) % 3 === 0;
}

/** Generator seeds at or above this are evaluation seeds; training seeds stay below. */
export const MIN_EVALUATION_SEED = 1_000_000;
