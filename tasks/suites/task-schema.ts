/**
 * The shape of a task config (tasks/<suite>.yaml), written once: ajv validates configs against
 * `TaskConfig`, the TypeScript types below are derived from it, and tasks/task.schema.json (the
 * file users and editors read) is generated from it by `npm run schemas`.
 *
 * It lives in tasks/suites, beside the code that reads configs and the configs themselves.
 */
import { type Static, type TObject, type TSchema, type TUnsafe, Type } from '@sinclair/typebox';
import { enumOf, taggedUnion } from '../../src/config-validation.ts';
import { ScorerConfig } from '../../src/scoring/scorers.ts';
import { MIN_EVALUATION_SEED } from '../../datasets/generators/holdout.ts';
import type { GeneratorName } from '../../datasets/generators/registry.ts';

/** Suite, dataset and corpus names: also file names. */
const NAME_PATTERN = '^[a-z0-9][a-z0-9-]*$';
const closed = { additionalProperties: false } as const;

/** A file's content, as `sha256sum` prints it. */
const SHA256_PATTERN = '^[0-9a-f]{64}$';

const Derive = Type.Record(Type.String(), Type.Object({ from: Type.String(), strip_prefix: Type.Optional(Type.String()) }, closed), {
  description: "extra fields computed from the row's fields",
});

const DatasetSource = Type.Object(
  {
    kind: Type.Literal('dataset'),
    dataset: Type.String({ pattern: NAME_PATTERN, description: 'a manifest in datasets/manifests' }),
    split: Type.String({ minLength: 1 }),
    derive: Type.Optional(Derive),
  },
  closed,
);

/**
 * The user's own file of items. The loaded spec always carries the file's sha256 (as pinned, or as
 * read), so that the suite config hash changes with the file's content.
 */
const FileSource = Type.Object(
  {
    kind: Type.Literal('file'),
    path: Type.String({
      minLength: 1,
      description: "the items, relative to this YAML's folder: .jsonl, .json (an array of objects), .csv (with a header row) or .parquet",
    }),
    sha256: Type.Optional(Type.String({ pattern: SHA256_PATTERN, description: "pins the file's content: a file with another sha256 is refused" })),
    id_field: Type.Optional(Type.String({ minLength: 1, description: 'a field unique per row, used as the doc id (default: <file name>-<row index>)' })),
    derive: Type.Optional(Derive),
  },
  closed,
);

/** Each generator's `source.options`; `satisfies` makes a new generator in the registry need an entry. */
const GENERATOR_OPTIONS = {
  addition: Type.Object({ digits: Type.Optional(enumOf([2, 3])) }, closed),
  product: Type.Object({}, closed),
  repetition: Type.Object({}, closed),
  passages: Type.Object(
    {
      corpus: Type.String({ pattern: NAME_PATTERN }),
      tail_fraction: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
      min_words: Type.Optional(Type.Integer({ minimum: 1 })),
      max_words: Type.Optional(Type.Integer({ minimum: 1 })),
      continuation_words: Type.Optional(Type.Integer({ minimum: 0 })),
    },
    closed,
  ),
} satisfies Record<GeneratorName, TObject>;
type GeneratorOptions = typeof GENERATOR_OPTIONS;

/** `options` may be left out exactly when the generator's options have no required field. */
type OptionsField<S extends TSchema> = object extends Static<S> ? { options?: Static<S> } : { options: Static<S> };

type GeneratorSourceOf<G extends GeneratorName> = {
  kind: 'generator';
  generator: G;
  /** >= MIN_EVALUATION_SEED: evaluation seeds never overlap training seeds. */
  seed: number;
  count?: number;
} & OptionsField<GeneratorOptions[G]>;

/**
 * One object branch with a generator enum; which options apply is an if/then per generator, so
 * that a bad option is reported at its own path (/source/options/digits) and not as a branch mismatch.
 */
function generatorSource(): TUnsafe<{ [G in GeneratorName]: GeneratorSourceOf<G> }[GeneratorName]> {
  const names = Object.keys(GENERATOR_OPTIONS) as GeneratorName[];
  const byGenerator = names.map((name) => {
    const options: TObject = GENERATOR_OPTIONS[name];
    const needsOptions = (options.required ?? []).length > 0;
    return {
      if: { type: 'object', properties: { generator: { const: name } } },
      then: { type: 'object', ...(needsOptions ? { required: ['options'] } : {}), properties: { options } },
    };
  });
  return Type.Unsafe({
    type: 'object',
    properties: {
      kind: Type.Literal('generator'),
      generator: enumOf(names),
      seed: Type.Integer({ minimum: MIN_EVALUATION_SEED, description: `evaluation seeds are >= ${MIN_EVALUATION_SEED}; training seeds stay below` }),
      count: Type.Integer({ minimum: 1 }),
      options: { type: 'object' },
    },
    required: ['kind', 'generator', 'seed'],
    ...closed,
    allOf: byGenerator,
  });
}

const Prompt = Type.Object(
  {
    template: Type.String({ minLength: 1, description: 'the question; {field} inserts an item field' }),
    target: Type.String({ description: 'the answer a few-shot example shows after target_delimiter' }),
    target_delimiter: Type.Optional(Type.String({ default: ' ' })),
    reference: Type.String({ description: 'what the scorer compares the generation with' }),
    system: Type.Optional(Type.String({ description: 'system message, chat form only' })),
  },
  closed,
);

const Fewshot = Type.Object(
  {
    count: Type.Integer({ minimum: 0 }),
    split: Type.Optional(Type.String({ minLength: 1, description: 'dataset source: split of the same dataset the examples come from' })),
    path: Type.Optional(Type.String({ minLength: 1, description: "file source: the file the examples come from, relative to this YAML's folder" })),
    sha256: Type.Optional(Type.String({ pattern: SHA256_PATTERN, description: "file source: pins the examples file's content" })),
    seed: Type.Optional(Type.Integer({ minimum: 0 })),
    sampler: Type.Optional(
      enumOf(['lm-eval'], { description: 'lm-eval: Python random.Random(seed).sample(split, count), called once per item in item order' }),
    ),
    delimiter: Type.Optional(Type.String({ default: '\n\n' })),
  },
  {
    ...closed,
    // A type cannot say "seed and sampler are required when count > 0": fewshotDraw narrows. Whether
    // `split` or `path` is required depends on the source, which this schema cannot see: spec.ts checks it.
    if: { type: 'object', properties: { count: { type: 'integer', exclusiveMinimum: 0 } } },
    then: { type: 'object', required: ['seed', 'sampler'] },
  },
);

const Sampling = taggedUnion('method', [
  Type.Object({ method: Type.Literal('greedy') }, closed),
  Type.Object(
    {
      method: Type.Literal('sample'),
      temperature: Type.Number({ exclusiveMinimum: 0 }),
      top_p: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
      top_k: Type.Optional(Type.Integer({ minimum: 0 })),
      seed: Type.Integer({ minimum: 0 }),
    },
    closed,
  ),
]);

const Generation = Type.Object(
  {
    max_new_tokens: Type.Integer({ minimum: 1 }),
    stop: Type.Array(Type.String({ minLength: 1 }), {
      uniqueItems: true,
      description: "generation ends before the first of these (and at the model's EOS)",
    }),
    truncation: Type.Optional(
      enumOf(['left', 'none'], {
        default: 'left',
        description: "a prompt longer than the max length minus max_new_tokens: 'left' keeps its last tokens (lm-evaluation-harness), 'none' fails the sample",
      }),
    ),
    sampling: Sampling,
  },
  closed,
);

export const TaskConfig = Type.Object(
  {
    name: Type.String({ pattern: NAME_PATTERN }),
    version: Type.Integer({ minimum: 1, description: 'bump when anything that changes prompts, items or scores changes' }),
    description: Type.String({ minLength: 1 }),
    source: taggedUnion('kind', [DatasetSource, generatorSource(), FileSource]),
    prompt: Prompt,
    fewshot: Fewshot,
    chat_template: Type.Boolean({ description: 'true: the prompt is chat messages (few-shot as user/assistant turns)' }),
    generation: Generation,
    scorer: ScorerConfig,
  },
  {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'flexibench task config',
    description:
      'One evaluation suite: where its items come from, how a prompt is rendered, how the model generates, and how the output is scored. Field meanings: tasks/README.md.',
    ...closed,
  },
);
export type TaskConfig = Static<typeof TaskConfig>;
export type DatasetSource = Static<typeof DatasetSource>;
export type FileSource = Static<typeof FileSource>;
export type DeriveRules = Static<typeof Derive>;
export type FewshotSettings = Static<typeof Fewshot>;
export type GenerationSettings = Static<typeof Generation>;

/** tasks/task.schema.json as it must be committed: `npm run schemas` writes it, a test compares. */
export function taskSchemaJson(): string {
  return `${JSON.stringify(TaskConfig, null, 2)}\n`;
}
