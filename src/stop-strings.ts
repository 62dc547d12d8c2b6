/**
 * Stop strings, read one way everywhere: generation ends at the earliest occurrence of any of them,
 * and the text is cut before it, as lm-evaluation-harness cuts a generation before any extraction.
 * An empty stop string would match at once and stop everything: it is ignored.
 */

/** The stop string that occurs first in `text` (the earlier listed on a tie), or null. */
export function firstStop(text: string, stops: readonly string[]): string | null {
  let first: string | null = null;
  let at = Infinity;
  for (const stop of stops) {
    if (stop === '') continue;
    const i = text.indexOf(stop);
    if (i !== -1 && i < at) {
      at = i;
      first = stop;
    }
  }
  return first;
}

/** The text before the earliest stop string. */
export function cutAtStop(text: string, stops: readonly string[]): string {
  const stop = firstStop(text, stops);
  return stop === null ? text : text.slice(0, text.indexOf(stop));
}
