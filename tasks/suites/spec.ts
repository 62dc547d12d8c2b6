/**
 * Task specs: a suite's YAML validated against the task config schema (./task-schema.ts), then
 * checked against what the schema cannot see (the dataset and split exist, templates use only
 * fields the items have; for a source of kind `file`, the user's file is read and its rows checked).
 * Suites are the configs in tasks/ and in the folders given as include paths. Every failure is one
 * line naming the file and the field path.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { UserError } from '../../src/errors.ts';
import { packagePath } from '../../src/package-root.ts';
import { loadManifest } from '../../datasets/manifest.ts';
import { GENERATORS } from '../../datasets/generators/registry.ts';
import { parseYaml, validateAgainst } from '../../src/config-validation.ts';
import { FILE_KINDS, readUserFile } from '../../src/user-file.ts';
import { displayPath } from './display-path.ts';
import { checkFewshotPool, fewshotDraw } from './fewshot.ts';
import { checkTemplateFields, fileItems } from './file-items.ts';
import { readItemFile } from './item-file.ts';
import { type DatasetSource, type FileSource, TaskConfig } from './task-schema.ts';
import { TemplateError, templateFields } from './template.ts';

const TASKS_DIR = packagePath('tasks');
const SUITE_EXTENSION = '.yaml';

type GeneratorSource = Extract<TaskConfig['source'], { kind: 'generator' }>;

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

/**
 * The config file a suite name resolves to (tasks/ or an include path that shadows it), shown as
 * TaskSpec.file shows it, for a suite whose config may not even validate.
 */
export function suiteSource(name: string, includePaths: readonly string[] = []): string {
  return displayPath(suiteFile(name, includePaths));
}

/** The fields a generated or dataset source's items have. */
function itemFields(source: Exclude<TaskSpec['source'], FileSource>): string[] {
  if (source.kind === 'generator') return [...GENERATORS[source.generator].fields];
  const manifest = loadManifest(source.dataset);
  return [...Object.keys(manifest.fields), ...Object.keys(source.derive ?? {})];
}

type Fail = (field: string, message: string) => never;

function checkDatasetSource(spec: TaskSpec, source: DatasetSource, fail: Fail): void {
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
  if (fewshotDraw(spec.fewshot) !== null) {
    const split = spec.fewshot.split;
    if (split === undefined) fail('/fewshot/split', 'is missing (the dataset split the examples come from)');
    if (spec.fewshot.path !== undefined) fail('/fewshot/path', `is for a file source; a dataset's examples come from /fewshot/split`);
    if (spec.fewshot.sha256 !== undefined) fail('/fewshot/sha256', 'is for a file source (it pins /fewshot/path)');
    if (!splits.includes(split)) fail('/fewshot/split', `'${split}' is not a split of ${source.dataset} (has: ${splits.join(', ')})`);
    if (split === source.split) fail('/fewshot/split', `must differ from /source/split: examples would overlap the items`);
  }
}

function checkGeneratorSource(spec: TaskSpec, source: GeneratorSource, fail: Fail): void {
  const generator = GENERATORS[source.generator];
  if (generator.needsCount && source.count === undefined) fail('/source/count', `is missing (generator '${source.generator}' needs it)`);
  if (spec.fewshot.count > 0) fail('/fewshot/count', `must be 0 for a generated suite (few-shot examples come from a dataset split or a file)`);
  if (source.generator === 'passages') {
    try {
      loadManifest(source.options.corpus);
    } catch (err) {
      fail('/source/options/corpus', `names an ${(err as Error).message}`);
    }
  }
}

/**
 * Reads the source's file (and the examples file) and checks the spec against their rows. The
 * spec it returns carries each file's sha256, as pinned or as read: the suite config hash is over
 * the spec, so a changed file makes a different run. An examples file is read even when
 * `fewshot.count` is 0, so that `run --num-fewshot` can draw from it.
 */
function checkFileSource(spec: TaskSpec, source: FileSource, uses: TemplateUses, folder: string, fail: Fail): TaskSpec {
  const task = spec.file;
  const draw = fewshotDraw(spec.fewshot);
  const examplesPath = spec.fewshot.path;
  if (draw !== null) {
    if (spec.fewshot.split !== undefined) fail('/fewshot/split', 'is for a dataset source; a file has no splits: give /fewshot/path, a file of examples');
    if (examplesPath === undefined) fail('/fewshot/path', 'is missing (the file the examples come from)');
  }
  const items = readItemFile(path.resolve(folder, source.path), { task, field: '/source/path' }, source.sha256);
  checkTemplateFields(items, source.derive, uses, task);
  fileItems(items, source, task);
  const checked: TaskSpec = { ...spec, source: { ...source, sha256: items.sha256 } };
  if (examplesPath === undefined) return checked;

  const examples = readItemFile(path.resolve(folder, examplesPath), { task, field: '/fewshot/path' }, spec.fewshot.sha256);
  if (examples.sha256 === items.sha256) fail('/fewshot/path', `${examples.shown} has the content of /source/path: examples would be the items`);
  // Examples show the question and its target; the reference and the system message are the evaluated item's only.
  const exampleUses = uses.filter(([at]) => at === '/prompt/template' || at === '/prompt/target');
  checkTemplateFields(examples, source.derive, exampleUses, task);
  fileItems(examples, source, task);
  if (draw !== null) checkFewshotPool(task, { count: draw.count, path: examples.shown }, examples.rows.length);
  return { ...checked, fewshot: { ...spec.fewshot, sha256: examples.sha256 } };
}

/** Each prompt template's JSON path and the item fields it inserts. */
type TemplateUses = [string, string[]][];

function templateUses(spec: TaskSpec, fail: Fail): TemplateUses {
  const templates: [string, string | undefined][] = [
    ['/prompt/template', spec.prompt.template],
    ['/prompt/target', spec.prompt.target],
    ['/prompt/reference', spec.prompt.reference],
    ['/prompt/system', spec.prompt.system],
  ];
  const uses: TemplateUses = [];
  for (const [field, template] of templates) {
    if (template === undefined) continue;
    try {
      uses.push([field, templateFields(template)]);
    } catch (err) {
      if (err instanceof TemplateError) return fail(field, err.message);
      throw err;
    }
  }
  return uses;
}

/** Checks what the schema cannot see; returns the spec, with its files' sha256 for a file source. `full`: the spec's own file. */
function checkSemantics(spec: TaskSpec, full: string): TaskSpec {
  const file = spec.file;
  const fail: Fail = (field, message) => {
    throw new UserError(`${file}: ${field} ${message}`);
  };
  const base = path.basename(file).replace(/\.(ya?ml|json)$/, '');
  if (spec.name !== base) fail('/name', `must be '${base}' (the file name), got '${spec.name}'`);

  const source = spec.source;
  if (source.kind === 'dataset') checkDatasetSource(spec, source, fail);
  else if (source.kind === 'generator') checkGeneratorSource(spec, source, fail);

  const uses = templateUses(spec, fail);
  let checked = spec;
  if (source.kind === 'file') {
    checked = checkFileSource(spec, source, uses, path.dirname(full), fail);
  } else {
    const fields = itemFields(source);
    for (const [field, used] of uses) {
      const unknown = used.find((f) => !fields.includes(f));
      if (unknown !== undefined) fail(field, `uses {${unknown}}, not a field of the items (fields: ${fields.join(', ')})`);
    }
  }
  if (spec.prompt.system !== undefined && !spec.chat_template) fail('/prompt/system', 'needs chat_template: true');
  return checked;
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
  return checkSemantics({ ...config, file }, full);
}
