/**
 * Normalized edit similarity: 1 - Levenshtein(a, b) / max(|a|, |b|) over Unicode code points
 * (1 for two empty strings). Partial credit for copies that slip a character or a word.
 *
 * Cost: the common prefix and suffix are dropped first (they never change the distance), so a
 * near copy costs O(|a| + |b|); what is left goes through Myers' bit-parallel algorithm in
 * Hyyrö's multi-word form, O(ceil(|a| / 32) * |b|) steps and O(|a| + |b|) memory instead of the
 * textbook table's |a| * |b| steps. Hand-written because the project has no edit-distance
 * dependency, and fastest-levenshtein, the usual one, counts UTF-16 code units, not code points.
 */

/** Symbols as integers: code points, or ids of strings. */
type Symbols = Int32Array;

/**
 * Levenshtein distance of `pattern` (the shorter, 1+ symbols) against `text`, 32 pattern rows at
 * a time. Each block keeps the vertical deltas of its rows as two bit masks (+1, -1) and hands the
 * horizontal deltas of its bottom row, one bit pair per text position, to the block below; the
 * first block sees the table's top row (every horizontal delta +1). The distance is the bottom
 * row's last cell: |pattern| plus the horizontal deltas along the last block's bottom row.
 */
function myers(pattern: Symbols, text: Symbols): number {
  const ids = new Map<number, number>();
  const patternIds = new Int32Array(pattern.length);
  for (let r = 0; r < pattern.length; r++) {
    const symbol = pattern[r]!;
    let id = ids.get(symbol);
    if (id === undefined) {
      id = ids.size;
      ids.set(symbol, id);
    }
    patternIds[r] = id;
  }
  // -1: a text symbol that matches no pattern row.
  const textIds = text.map((symbol) => ids.get(symbol) ?? -1);
  const peq = new Int32Array(ids.size);
  const words = (text.length + 31) >>> 5;
  const hPlus = new Int32Array(words).fill(-1);
  const hMinus = new Int32Array(words);

  let distance = 0;
  for (let start = 0; start < pattern.length; start += 32) {
    const end = Math.min(start + 32, pattern.length);
    const bottom = end - start - 1;
    for (let r = start; r < end; r++) peq[patternIds[r]!]! |= 1 << (r - start);
    let vPlus = -1;
    let vMinus = 0;
    let sum = end;
    for (let j = 0; j < text.length; j++) {
      const id = textIds[j]!;
      const eq = id < 0 ? 0 : peq[id]!;
      const word = j >>> 5;
      const bit = j & 31;
      const inPlus = (hPlus[word]! >>> bit) & 1;
      const inMinus = (hMinus[word]! >>> bit) & 1;
      const xv = eq | vMinus;
      const xh = ((((eq | inMinus) & vPlus) + vPlus) ^ vPlus) | eq | inMinus;
      let ph = vMinus | ~(xh | vPlus);
      let mh = vPlus & xh;
      const outPlus = (ph >>> bottom) & 1;
      const outMinus = (mh >>> bottom) & 1;
      sum += outPlus - outMinus;
      if (outPlus !== inPlus) hPlus[word]! ^= 1 << bit;
      if (outMinus !== inMinus) hMinus[word]! ^= 1 << bit;
      ph = (ph << 1) | inPlus;
      mh = (mh << 1) | inMinus;
      vPlus = mh | ~(xv | ph);
      vMinus = ph & xv;
    }
    for (let r = start; r < end; r++) peq[patternIds[r]!] = 0;
    distance = sum;
  }
  return distance;
}

function distance(a: Symbols, b: Symbols): number {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const restA = a.subarray(start, endA);
  const restB = b.subarray(start, endB);
  const [pattern, text] = restA.length <= restB.length ? [restA, restB] : [restB, restA];
  return pattern.length === 0 ? text.length : myers(pattern, text);
}

export function levenshtein(a: readonly string[], b: readonly string[]): number {
  const ids = new Map<string, number>();
  const encode = (items: readonly string[]): Symbols =>
    Int32Array.from(items, (item) => {
      let id = ids.get(item);
      if (id === undefined) {
        id = ids.size;
        ids.set(item, id);
      }
      return id;
    });
  return distance(encode(a), encode(b));
}

/** Code points of `text`, as Array.from(text) splits it (a lone surrogate is one). */
function codePoints(text: string): Symbols {
  const out = new Int32Array(text.length);
  let n = 0;
  for (let k = 0; k < text.length; k++) {
    const cp = text.codePointAt(k) as number;
    out[n++] = cp;
    if (cp > 0xffff) k++;
  }
  return out.subarray(0, n);
}

export function editSimilarity(prediction: string, reference: string): number {
  const a = codePoints(prediction);
  const b = codePoints(reference);
  const longest = Math.max(a.length, b.length);
  return longest === 0 ? 1 : 1 - distance(a, b) / longest;
}
