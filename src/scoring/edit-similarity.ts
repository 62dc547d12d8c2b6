/**
 * Normalized edit similarity: 1 - Levenshtein(a, b) / max(|a|, |b|) over Unicode code points
 * (1 for two empty strings). Partial credit for copies that slip a character or a word.
 */
export function levenshtein(a: readonly string[], b: readonly string[]): number {
  if (a.length < b.length) return levenshtein(b, a);
  let prev = new Int32Array(b.length + 1);
  let curr = new Int32Array(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    curr[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const substitution = prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      curr[j] = Math.min(prev[j] + 1, curr[j - 1] + 1, substitution);
    }
    [prev, curr] = [curr, prev];
  }
  return prev[b.length];
}

export function editSimilarity(prediction: string, reference: string): number {
  const a = Array.from(prediction);
  const b = Array.from(reference);
  const longest = Math.max(a.length, b.length);
  return longest === 0 ? 1 : 1 - levenshtein(a, b) / longest;
}
