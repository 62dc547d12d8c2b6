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

/** The text `ids` add after `contextIds` (TextTokenizer.continuationText). */
export type DecodeAfter = (contextIds: readonly number[], ids: readonly number[]) => string;

/** Generations up to this many tokens are decoded whole at each check: as cheap as a tail's decodes. */
const WHOLE_TOKENS = 64;
/** Context given with a tail: continuationText reads the last 8 tokens of it. */
const TAIL_CONTEXT = 16;
/**
 * Characters that may read differently at either end of a tail than in the whole text: a UTF-8
 * character split across tokens reads as up to 3 U+FFFD until its last byte arrives.
 */
const BOUNDARY_CHARS = 3;

/**
 * Watches a generation for its first stop string as it grows by one token per check. Decoding the
 * whole generation at every token costs time quadratic in its length (12–40 ms over a 256-token
 * GSM8K answer on the reference tokenizer); past WHOLE_TOKENS tokens this decodes only a tail.
 *
 * Why a tail is enough: every earlier check found no stop string, so one that appears now ends in
 * what the newest token changed (its text, and a character it completed), and begins at most
 * (longest stop − 1) characters before that. The tail is the last tokens whose text before the
 * newest token holds that many characters and BOUNDARY_CHARS at each end, decoded after the tokens
 * before them, as continuationText decodes a generation after its prompt. A stop string found in
 * the tail is confirmed on the whole text, which alone says which stop string is first, so a
 * stop is always the whole text's. test/stop-strings.test.ts checks every step against whole
 * decodes, on both tokenizer kinds, with split UTF-8 characters.
 */
export class StopStringWatch {
  private readonly longest: number;
  /** Tokens in the tail before the newest; doubled when they decode to too few characters. */
  private tailTokens = 8;

  constructor(
    private readonly stops: readonly string[],
    private readonly promptIds: readonly number[],
    private readonly decode: DecodeAfter,
  ) {
    this.longest = Math.max(0, ...stops.map((s) => s.length));
  }

  /** The stop string in the text of `generated` (one token more than at the previous check), or null. */
  check(generated: readonly number[]): string | null {
    const n = generated.length;
    while (n > WHOLE_TOKENS && this.tailTokens < n - 1) {
      const from = n - 1 - this.tailTokens;
      const context = from >= TAIL_CONTEXT ? generated.slice(from - TAIL_CONTEXT, from) : [...this.promptIds.slice(-TAIL_CONTEXT), ...generated.slice(0, from)];
      if (this.decode(context, generated.slice(from, n - 1)).length < this.longest - 1 + 2 * BOUNDARY_CHARS) {
        this.tailTokens *= 2;
        continue;
      }
      if (firstStop(this.decode(context, generated.slice(from)), this.stops) === null) return null;
      break;
    }
    return firstStop(this.decode(this.promptIds, generated), this.stops);
  }
}
