/**
 * GSM8K answer extraction and exact match as lm-evaluation-harness's `gsm8k` task (version 3):
 *
 * - strict-match: regex `#### (\-?[0-9\.\,]+)`, first match.
 * - flexible-extract: regex `(-?[$0-9.,]{2,})|(-?[0-9]+)`, last match, first non-empty group.
 * - Either takes the match stripped of surrounding whitespace, or `[invalid]` when nothing matches.
 * - exact_match: on both the extracted answer and the reference, delete every `,`, every `$`,
 *   everything up to the last `#### `, and a final `.`, in that order; lower-case; compare strings.
 *
 * Python's `re` and JavaScript's RegExp agree on these patterns except `$`, which in Python also
 * matches just before a final newline; that is reproduced below.
 */

/**
 * lm-eval's RegexFilter fallback, ported here with the filter (regexExtract); every extractor that
 * finds no answer reports it (number-match too), so stored answers read the same across suites.
 */
export const INVALID_ANSWER = '[invalid]';

export const STRICT_MATCH_PATTERN = String.raw`#### (\-?[0-9\.\,]+)`;
export const FLEXIBLE_EXTRACT_PATTERN = String.raw`(-?[$0-9.,]{2,})|(-?[0-9]+)`;

/** lm-eval's regexes_to_ignore for gsm8k, in order, as JavaScript equivalents of the Python ones. */
const IGNORE: readonly RegExp[] = [
  /,/g, // ","
  /\$/g, // "\\$"
  /[\s\S]*#### /g, // "(?s).*#### "
  /\.(?=\n?$)/g, // "\\.$" (Python's $ also matches before a trailing newline)
];

/** Python's `str.isspace()` characters (JavaScript's \s adds U+FEFF and lacks \x1c-\x1f, \x85). */
const PY_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'g');

/** Python `str.strip()` with no argument. */
function pythonStrip(text: string): string {
  return text.replace(PY_STRIP, '');
}

/**
 * lm-eval's RegexFilter: `re.findall(pattern, text)`, pick match `groupSelect` (negative counts
 * from the end), take its first non-empty group when the pattern has several, strip it.
 */
export function regexExtract(text: string, pattern: string, groupSelect: number, fallback = INVALID_ANSWER): string {
  const re = new RegExp(pattern, 'g');
  const matches: string[] = [];
  for (const m of text.matchAll(re)) {
    // findall returns group 1 for one group, the tuple of groups for several, the match for none.
    const groups = m.slice(1);
    if (groups.length === 0) matches.push(m[0]);
    else if (groups.length === 1) matches.push(groups[0] ?? '');
    else matches.push(groups.find((g) => g !== undefined && g !== '') ?? '');
  }
  if (matches.length === 0) return fallback;
  const index = groupSelect < 0 ? matches.length + groupSelect : groupSelect;
  const chosen = matches[index];
  if (chosen === undefined) throw new Error(`regexExtract: no match number ${groupSelect} among ${matches.length}`);
  return pythonStrip(chosen);
}

export function strictMatch(generation: string): string {
  return regexExtract(generation, STRICT_MATCH_PATTERN, 0);
}

export function flexibleExtract(generation: string): string {
  return regexExtract(generation, FLEXIBLE_EXTRACT_PATTERN, -1);
}

/** One side of lm-eval's exact_match after regexes_to_ignore and ignore_case. */
export function normalizeGsm8kAnswer(text: string): string {
  let out = text;
  for (const re of IGNORE) out = out.replace(re, '');
  return out.toLowerCase();
}

/** lm-eval's exact_match with the gsm8k options: 1 when equal after normalization, else 0. */
export function gsm8kExactMatch(extracted: string, reference: string): 0 | 1 {
  return normalizeGsm8kAnswer(extracted) === normalizeGsm8kAnswer(reference) ? 1 : 0;
}

export interface Gsm8kScore {
  strict_match: 0 | 1;
  flexible_extract: 0 | 1;
  strict_match_answer: string;
  flexible_extract_answer: string;
}

/** Both of lm-eval's gsm8k metrics for one generation (already cut at the stop strings). */
export function scoreGsm8k(generation: string, reference: string): Gsm8kScore {
  const strict = strictMatch(generation);
  const flexible = flexibleExtract(generation);
  return {
    strict_match: gsm8kExactMatch(strict, reference),
    flexible_extract: gsm8kExactMatch(flexible, reference),
    strict_match_answer: strict,
    flexible_extract_answer: flexible,
  };
}
