/**
 * Task specs: a suite's YAML validated against the task config schema (./task-schema.ts), then
 * checked against what the schema cannot see (the dataset and split exist, templates use only
 * fields the items have). Suites are the configs in tasks/ and in the folders given as include
 * paths. Every failure is one line naming the file and the field path.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.ts';
import { PACKAGE_ROOT, packagePath } from '../package-root.ts';
import { loadManifest } from '../../datasets/manifest.ts';
import { GENERATORS } from '../../datasets/generators/registry.ts';
import { parseYaml, validateAgainst } from '../config-validation.ts';
import { FILE_KINDS, readUserFile } from '../user-file.ts';
import { fewshotDraw } from './fewshot.ts';
import { TaskConfig } from './task-schema.ts';
import { TemplateError, templateFields } from './template.ts';

const TASKS_DIR = packagePath('tasks');
const SUITE_EXTENSION = '.yaml';

export type TaskSpec = TaskConfig & {
  /** Where the spec was read from, as shown in errors (e.g. tasks/gsm8k.yaml). */
  file: string;
};

function checkFolder(dir: string): void {
  let isFolder: boolean;
  try {
    isFolder = statSync(dir).isDirectory();
  } catch {
    throw new UserError(`include path ${dir}: no such folder`);
  }
  if (!isFolder) throw new UserError(`include path ${dir}: not a folder (give the folder that holds the task YAMLs)`);
}

/**
 * Suite name -> config file. tasks/ first, then each include path in order; a later folder's
 * <name>.yaml shadows an earlier one's, so an include path can replace a built-in suite.
 */
function suiteFiles(includePaths: readonly string[]): Map<string, string> {
  const files = new Map<string, string>();
  for (const dir of [TASKS_DIR, ...includePaths]) {
    if (dir !== TASKS_DIR) checkFolder(dir);
    for (const entry of readdirSync(dir)) {
      if (entry.endsWith(SUITE_EXTENSION)) files.set(entry.slice(0, -SUITE_EXTENSION.length), path.resolve(dir, entry));
    }
  }
  return files;
}

/** Suite names: the configs in tasks/ and in the include paths. */
export function listSuites(includePaths: readonly string[] = []): string[] {
  return [...suiteFiles(includePaths).keys()].sort();
}

function suiteFile(name: string, includePaths: readonly string[]): string {
  const files = suiteFiles(includePaths);
  const file = files.get(name);
  if (file === undefined) throw new UserError(`unknown suite '${name}' (known: ${[...files.keys()].sort().join(', ')})`);
  return file;
}

/** Where a path is shown: relative to the package for its own files (tasks/gsm8k.yaml), else absolute. */
function displayPath(full: string): string {
  const rel = path.relative(PACKAGE_ROOT, full);
  return rel.startsWith('..') || path.isAbsolute(rel) ? full : rel.split(path.sep).join('/');
}

/**
 * The config file a suite name resolves to (tasks/ or an include path that shadows it), shown as
 * TaskSpec.file shows it, for a suite whose config may not even validate.
 */
export function suiteSource(name: string, includePaths: readonly string[] = []): string {
  return displayPath(suiteFile(name, includePaths));
}

/** The fields each item of the spec's source has. */
function itemFields(spec: Pick<TaskSpec, 'source' | 'file'>): string[] {
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
    const draw = fewshotDraw(spec.fewshot);
    if (draw !== null) {
      const split = draw.split;
      if (!splits.includes(split)) fail('/fewshot/split', `'${split}' is not a split of ${source.dataset} (has: ${splits.join(', ')})`);
      if (split === source.split) fail('/fewshot/split', `must differ from /source/split: examples would overlap the items`);
    }
  } else {
    const generator = GENERATORS[source.generator];
    if (generator.needsCount && source.count === undefined) fail('/source/count', `is missing (generator '${source.generator}' needs it)`);
    if (spec.fewshot.count > 0) fail('/fewshot/count', `must be 0 for a generated suite (few-shot examples come from a dataset split)`);
    if (source.generator === 'passages') {
      try {
        loadManifest(source.options.corpus);
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

/** Reads, validates and checks a task spec: a suite name (tasks/ or an include path) or a path to a YAML/JSON file. */
export function loadTaskSpec(nameOrPath: string, includePaths: readonly string[] = []): TaskSpec {
  const isPath = /[\\/]/.test(nameOrPath) || /\.(ya?ml|json)$/.test(nameOrPath);
  const full = isPath ? path.resolve(nameOrPath) : suiteFile(nameOrPath, includePaths);
  const file = displayPath(full);
  // Checked as a regular file within its limit first: /dev/zero or a FIFO named as a suite is refused, not read.
  let text: string;
  try {
    text = readUserFile(full, FILE_KINDS.taskConfig).toString('utf8');
  } catch (err) {
    // readUserFile names the absolute path; every other error here names the file as shown.
    if (err instanceof UserError && err.message.startsWith(`${full}:`)) throw new UserError(file + err.message.slice(full.length));
    throw err;
  }
  const config = validateAgainst(parseYaml(text, file), TaskConfig, file);
  const spec: TaskSpec = { ...config, file };
  checkSemantics(spec);
  return spec;
}
