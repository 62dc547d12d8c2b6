/**
 * The seeded item generators a task config can name in `source.generator`, with the fields each
 * item has (what prompt templates may use). The same (generator, options, seed, count) gives the
 * same items on every machine.
 */
import { loadText } from '../load.ts';
import { type AdditionOptions, additionItems, productItems } from './arithmetic.ts';
import { type PassageOptions, passageItems } from './passages.ts';
import { repetitionItems } from './repetition.ts';

export type GeneratorName = 'addition' | 'product' | 'repetition' | 'passages';

export interface GeneratorRequest {
  options: Record<string, unknown>;
  seed: number;
  /** Number of items; `product` takes every evaluation pair when absent. */
  count?: number;
  dataDir: string;
  /** Names the config in errors, e.g. `tasks/copy.yaml: /source/count`. */
  where: string;
}

export interface ItemGenerator {
  fields: readonly string[];
  /** Whether a config must give `count`. */
  needsCount: boolean;
  generate(request: GeneratorRequest): Record<string, string>[];
}

export const GENERATORS: Readonly<Record<GeneratorName, ItemGenerator>> = {
  addition: {
    fields: ['a', 'b', 'answer'],
    needsCount: true,
    generate: (r) => additionItems(r.options as AdditionOptions, r.seed, r.count ?? 0, r.where),
  },
  product: {
    fields: ['a', 'b', 'answer'],
    needsCount: false,
    generate: (r) => productItems(r.seed, r.count, r.where),
  },
  repetition: {
    fields: ['numbers', 'answer'],
    needsCount: true,
    generate: (r) => repetitionItems(r.seed, r.count ?? 0),
  },
  passages: {
    fields: ['passage', 'continuation'],
    needsCount: true,
    generate: (r) => {
      const { corpus, ...options } = r.options as unknown as PassageOptions & { corpus: string };
      return passageItems(loadText(corpus, 'text', r.dataDir), options, r.seed, r.count ?? 0, r.where);
    },
  },
};
