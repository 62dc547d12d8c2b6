/**
 * Scoring for the arithmetic suites: the produced number is the first integer (optionally
 * negative) in the generation; it must equal the reference as a number (so "0936" counts as 936,
 * "936.5" as 936 followed by other text). No number gives `[invalid]`.
 */
import { INVALID_ANSWER } from './gsm8k.ts';

export interface NumberScore {
  exact_match: 0 | 1;
  answer: string;
}

function firstInteger(text: string): string | undefined {
  return /-?[0-9]+/.exec(text)?.[0];
}

function sameInteger(a: string, b: string): boolean {
  try {
    return BigInt(a) === BigInt(b);
  } catch {
    return false;
  }
}

export function scoreNumber(generation: string, reference: string): NumberScore {
  const answer = firstInteger(generation);
  const expected = reference.trim();
  if (answer === undefined) return { exact_match: 0, answer: INVALID_ANSWER };
  return { exact_match: sameInteger(answer, expected) ? 1 : 0, answer };
}
