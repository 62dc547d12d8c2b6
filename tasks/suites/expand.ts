/**
 * A suite's docs: what the runner feeds the model and the scorer, one per evaluated item.
 */
import type { Item } from './item.ts';
import { fewshotItems, loadItems } from './items.ts';
import { checkFewshotPool, fewshotDraw, fewshotDraws } from './fewshot.ts';
import { type Prompt, renderPrompt, renderReference } from './render.ts';
import type { TaskSpec } from './spec.ts';
import type { GenerationSettings } from './task-schema.ts';
import { selectSubset } from './subset.ts';

export interface Doc {
  suite: string;
  /** Stable across runs, limits and machines; unique within the suite. */
  docId: string;
  /** Position of the item in the suite's full item list. */
  index: number;
  /** Text, or chat messages when the spec's chat_template is on. */
  prompt: Prompt;
  /** What the scorer compares the generation with. */
  reference: string;
  generation: GenerationSettings;
  /** The item's fields (question, answer, a, b, passage, ...). */
  fields: Readonly<Record<string, string>>;
  /** Ids (in the few-shot split) of the examples in the prompt, in order. */
  fewshotIds: string[];
}

export interface ExpandOptions {
  /** Data directory (see datasets/data-dir.ts). */
  dataDir: string;
  /** Evaluate a seeded random subset of this many items instead of all. */
  limit?: number;
  /** Seed of the --limit subset; default 0. Items and few-shot examples do not depend on it. */
  seed?: number;
}

export function expandSuite(spec: TaskSpec, options: ExpandOptions): Doc[] {
  const items = loadItems(spec, options.dataDir);
  const indices = options.limit === undefined ? items.map((_, i) => i) : selectSubset(items.length, options.limit, options.seed ?? 0);
  if (indices.length === 0) return [];

  let examplesFor: (index: number) => Item[] = () => [];
  const fewshot = fewshotDraw(spec.fewshot);
  const pool = fewshot === null ? null : fewshotItems(spec, options.dataDir);
  if (fewshot !== null && pool !== null) {
    // Checked here as well as on loading: `run --num-fewshot` changes the count of a loaded spec.
    const { split, path } = spec.fewshot;
    checkFewshotPool(spec.file, { count: fewshot.count, ...(split !== undefined ? { split } : { path }) }, pool.length);
    const draws = fewshotDraws(pool.length, fewshot.count, fewshot.seed, indices[indices.length - 1] as number);
    examplesFor = (index) => (draws[index] as number[]).map((j) => pool[j] as Item);
  }

  return indices.map((index) => {
    const item = items[index] as Item;
    const examples = examplesFor(index);
    return {
      suite: spec.name,
      docId: item.id,
      index,
      prompt: renderPrompt(spec, item, examples),
      reference: renderReference(spec, item),
      generation: spec.generation,
      fields: item.fields,
      fewshotIds: examples.map((ex) => ex.id),
    };
  });
}
