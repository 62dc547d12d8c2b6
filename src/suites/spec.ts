/**
 * Task specs: tasks/<name>.yaml validated against tasks/task.schema.json, then checked against
 * what the schema cannot see (the dataset and split exist, templates use only fields the items
 * have). Every failure is one line naming the file and the field path.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { loadManifest } from '../../datasets/manifest.ts';
import { GENERATORS, type GeneratorName } from '../../datasets/generators/registry.ts';
import type { ScorerConfig } from '../scoring/scorers.ts';
import { parseYaml, validateConfig } from '../config-validation.ts';
import { TemplateError, templateFields } from './template.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TASKS_DIR = path.join(REPO_ROOT, 'tasks');
const SCHEMA = path.join(TASKS_DIR, 'task.schema.json');

export interface DatasetSource {
  kind: 'dataset';
  dataset: string;
  split: string;
  /** Extra fields computed from a row's fields. */
  derive?: Record<string, { from: string; strip_prefix?: string }>;
}

export interface GeneratorSource {
  kind: 'generator';
  generator: GeneratorName;
  /** >= 1_000_000: evaluation seeds never overlap training seeds. */
  seed: number;
  count?: number;
  options?: Record<string, unknown>;
}

export type Sampling =
  | { method: 'greedy' }
  | { method: 'sample'; temperature: number; top_p?: number; top_k?: number; seed: number };

export interface GenerationSettings {
  max_new_tokens: number;
  /** Generation ends before the first of these, and at the model's EOS. */
  stop: string[];
  /** A prompt that does not fit: 'left' (default) keeps its last tokens, as lm-eval does; 'none' fails the sample. */
  truncation?: 'left' | 'none';
  sampling: Sampling;
}

export interface TaskSpec {
  name: string;
  version: number;
  description: string;
  source: DatasetSource | GeneratorSource;
  prompt: {
    template: string;
    target: string;
    /** Between a few-shot example's question and its target; default " ". */
    target_delimiter?: string;
    reference: string;
    system?: string;
  };
  fewshot: {
    count: number;
    split?: string;
    seed?: number;
    sampler?: 'lm-eval';
    /** Between few-shot examples; default "\n\n". */
    delimiter?: string;
  };
  chat_template: boolean;
  generation: GenerationSettings;
  scorer: ScorerConfig;
  /** Where the spec was read from, as shown in errors (e.g. tasks/gsm8k.yaml). */
  file: string;
}

/** Suite names: the configs in tasks/. */
export function listSuites(): string[] {
  return readdirSync(TASKS_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

function displayPath(full: string): string {
  const rel = path.relative(REPO_ROOT, full);
  return rel.startsWith('..') || path.isAbsolute(rel) ? full : rel.split(path.sep).join('/');
}

/** The fields each item of the spec's source has. */
export function itemFields(spec: Pick<TaskSpec, 'source' | 'file'>): string[] {
  const source = spec.source;
  if (source.kind === 'generator') return [...GENERATORS[source.generator].fields];
  const manifest = loadManifest(source.dataset);
  return [...Object.keys(manifest.fields), ...Object.keys(source.derive ?? {})];
}

function checkSemantics(spec: TaskSpec): void {
  const file = spec.file;
  const fail = (field: string, message: string): never => {
    throw new UserError(`${file}: ${field} ${message}`);
  };
  const base = path.basename(file).replace(/\.(ya?ml|json)$/, '');
  if (spec.name !== base) fail('/name', `must be '${base}' (the file name), got '${spec.name}'`);

  const source = spec.source;
  if (source.kind === 'dataset') {
    let manifest;
    try {
      manifest = loadManifest(source.dataset);
    } catch (err) {
      return fail('/source/dataset', `names an ${(err as Error).message}`);
    }
    const splits = Object.keys(manifest.files);
    if (!splits.includes(source.split)) fail('/source/split', `'${source.split}' is not a split of ${source.dataset} (has: ${splits.join(', ')})`);
    for (const [name, rule] of Object.entries(source.derive ?? {})) {
      if (!(rule.from in manifest.fields)) {
        fail(`/source/derive/${name}/from`, `'${rule.from}' is not a field of ${source.dataset} (has: ${Object.keys(manifest.fields).join(', ')})`);
      }
    }
    if (spec.fewshot.count > 0) {
      const split = spec.fewshot.split as string;
      if (!splits.includes(split)) fail('/fewshot/split', `'${split}' is not a split of ${source.dataset} (has: ${splits.join(', ')})`);
      if (split === source.split) fail('/fewshot/split', `must differ from /source/split: examples would overlap the items`);
    }
  } else {
    const generator = GENERATORS[source.generator];
    if (generator.needsCount && source.count === undefined) fail('/source/count', `is missing (generator '${source.generator}' needs it)`);
    if (spec.fewshot.count > 0) fail('/fewshot/count', `must be 0 for a generated suite (few-shot examples come from a dataset split)`);
    const corpus = source.options?.corpus;
    if (typeof corpus === 'string') {
      try {
        loadManifest(corpus);
      } catch (err) {
        fail('/source/options/corpus', `names an ${(err as Error).message}`);
      }
    }
  }

  const fields = itemFields(spec);
  const templates: [string, string | undefined][] = [
    ['/prompt/template', spec.prompt.template],
    ['/prompt/target', spec.prompt.target],
    ['/prompt/reference', spec.prompt.reference],
    ['/prompt/system', spec.prompt.system],
  ];
  for (const [field, template] of templates) {
    if (template === undefined) continue;
    let used: string[];
    try {
      used = templateFields(template);
    } catch (err) {
      if (err instanceof TemplateError) return fail(field, err.message);
      throw err;
    }
    const unknown = used.find((f) => !fields.includes(f));
    if (unknown !== undefined) fail(field, `uses {${unknown}}, not a field of the items (fields: ${fields.join(', ')})`);
  }
  if (spec.prompt.system !== undefined && !spec.chat_template) fail('/prompt/system', 'needs chat_template: true');
}

/** Reads, validates and checks a task spec: a suite name (tasks/<name>.yaml) or a path to a YAML/JSON file. */
export function loadTaskSpec(nameOrPath: string): TaskSpec {
  const isPath = /[\\/]/.test(nameOrPath) || /\.(ya?ml|json)$/.test(nameOrPath);
  const full = isPath ? path.resolve(nameOrPath) : path.join(TASKS_DIR, `${nameOrPath}.yaml`);
  if (!isPath && (!/^[a-z0-9][a-z0-9-]*$/.test(nameOrPath) || !existsSync(full))) {
    throw new UserError(`unknown suite '${nameOrPath}' (known: ${listSuites().join(', ')})`);
  }
  const file = displayPath(full);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch {
    throw new UserError(`${file}: cannot read the task config`);
  }
  const raw = parseYaml(text, file);
  const spec = validateConfig<Omit<TaskSpec, 'file'>>(raw, SCHEMA, file);
  const withFile: TaskSpec = { ...spec, file };
  checkSemantics(withFile);
  return withFile;
}
