/**
 * Calibration text for the `static` comparator's Block Influence (ShortGPT calibrates on held-out
 * PG19 text): passages from the first 90% of Tiny Shakespeare, the part no evaluation item reads
 * (copy and continue-writing take theirs from the last 10%; tasks/FORMATS.md). Passages start at
 * line starts spread evenly over that part, so the sample covers the whole corpus head.
 */
import { tailStart } from './generators/passages.ts';
import { loadText } from './load.ts';

export const CALIBRATION_CORPUS = 'tinyshakespeare';
/** The share of the corpus evaluation reads, from its end (the passages generator's tail). */
const EVALUATION_TAIL = 0.1;

/** A one-line description stored with each static run. */
export const CALIBRATION_SOURCE = `${CALIBRATION_CORPUS}, first ${100 * (1 - EVALUATION_TAIL)}% (the part evaluation items never read)`;

/** `count` passages of `chars` characters from the held-out head of `text`, each starting at a line start. */
export function calibrationPassages(text: string, count: number, chars: number): string[] {
  const head = text.slice(0, tailStart(text, EVALUATION_TAIL));
  const passages: string[] = [];
  for (let i = 0; i < count; i++) {
    const at = Math.floor((i * head.length) / count);
    const start = at === 0 ? 0 : head.indexOf('\n', at - 1) + 1;
    if (start === 0 && at !== 0) break;
    const passage = head.slice(start, Math.min(start + chars, head.length));
    if (passage.trim() !== '') passages.push(passage);
  }
  return passages;
}

export function loadCalibrationPassages(dataDir: string, count: number, chars: number): string[] {
  return calibrationPassages(loadText(CALIBRATION_CORPUS, 'text', dataDir), count, chars);
}
