/**
 * Scoring for the `copy` and `repetition` suites: the answer is the generation without its
 * surrounding whitespace (the prompt ends in "Answer:" and the target starts with a space);
 * exact match and normalized edit similarity against the reference.
 */
import { editSimilarity } from './edit-similarity.ts';

export interface CopyScore {
  exact_match: 0 | 1;
  edit_similarity: number;
}

export function scoreCopy(generation: string, reference: string): CopyScore {
  const answer = generation.trim();
  const expected = reference.trim();
  return { exact_match: answer === expected ? 1 : 0, edit_similarity: editSimilarity(answer, expected) };
}
