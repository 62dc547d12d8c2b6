/**
 * Cutting a generation at its stop strings, as lm-evaluation-harness does before any extraction:
 * the text before the earliest occurrence of any stop string.
 */
export function cutAtStop(text: string, stops: readonly string[]): string {
  let end = text.length;
  for (const stop of stops) {
    if (stop === '') continue;
    const at = text.indexOf(stop);
    if (at !== -1 && at < end) end = at;
  }
  return text.slice(0, end);
}
