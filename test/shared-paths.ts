/**
 * Where tests find what is too large to commit: the dataset mirror and third-party models, kept in
 * the shared folder beside the repository (../shared: datasets/ and models/stories260K/, as below).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const SHARED = resolve(import.meta.dirname, '../../shared');

/** The dataset mirror: $FLEXIBENCH_DATA_DIR (.ci/run sets it), else ../shared/datasets. */
export const DATA_DIR = process.env['FLEXIBENCH_DATA_DIR'] ?? resolve(SHARED, 'datasets');

/** karpathy's stories260K in llama2.c format: stories260K.bin and its tokenizer tok512.bin. */
export const STORIES260K = resolve(SHARED, 'models/stories260K');

/**
 * Whether stories260K is there. When it is not, the caller skips the tests that need it and this
 * says so with the path, as the PyTorch tests do when torch is missing; in CI a missing model fails
 * instead, so a machine without it cannot pass by skipping.
 */
export function hasStories260K(): boolean {
  const missing = ['stories260K.bin', 'tok512.bin'].map((f) => resolve(STORIES260K, f)).find((file) => !existsSync(file));
  if (missing === undefined) return true;
  const reason = `${missing} not found (llama2.c's stories260K.bin and tok512.bin belong in ${STORIES260K})`;
  if (process.env['CI']) throw new Error(`${reason}: CI needs the shared models`);
  console.warn(`tests that need stories260K skipped: ${reason}`);
  return false;
}
