/**
 * `flexibench export-patterns`: a study's layer patterns as a dataset in the Hugging Face layout,
 *
 *   DIR/data/tokens.parquet     one row per stored position      (src/store/pattern-export-reads.ts)
 *   DIR/data/samples.parquet    one row per sample
 *   DIR/schema/*.schema.json    copies of reports/pattern-schemas/
 *   DIR/README.md               the dataset card                 (reports/dataset-card.ts)
 *
 * Everything a bad input can fail on is checked before anything is written, and the folder is
 * written through writeOutputFolder, so DIR ends up whole or as it was; a DIR that holds only a
 * previous export is replaced, anything else needs --force. The study is opened read-only.
 *
 * The card is meant to be published as it is, so it names no path of the machine that exported
 * it: a checkpoint by its folder in flexibench's repository or by a placeholder (publishedFolders),
 * a suite by its name when the repository's tasks/ gives its config, else the user's own YAML by its
 * file name (suiteOrigins), the study and the dataset by the neutral names its commands use
 * (exportCommandFor).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { PACKAGE_ROOT, packagePath } from '../src/package-root.ts';
import { loadManifest } from '../datasets/manifest.ts';
import { UserError } from '../src/errors.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import {
  copyPatternFiles,
  readExportRuns,
  readParquetColumns,
  readStudySuites,
  SAMPLE_ORDER,
  TOKEN_ORDER,
  type ExportRun,
  type ParquetColumn,
} from '../src/store/pattern-export-reads.ts';
import { StudyDb } from '../src/store/study-db.ts';
import {
  CARD_MARKER,
  checkpointPlaceholder,
  exportCommandFor,
  folderName,
  renderDatasetCard,
  type CardField,
  type CardModel,
  type CardSuite,
  type SuiteOrigin,
} from './dataset-card.ts';
import { checkOutputFolder, holdsOnlyOutput, writeOutputFolder, type OutputSignature } from '../src/output-folder.ts';

/** `run --num-fewshot` and `--max-new-tokens` as a stored config can say them. */
export interface SuiteFlags {
  numFewshot?: number;
  maxNewTokens?: number;
}

export interface ExportPatternsOptions {
  dbPath: string;
  outDir: string;
  /** Suite names to export; null for every suite of the study. */
  suites: readonly string[] | null;
  force: boolean;
  /**
   * The suite config hash `run` gives the task YAML at `file` with these flags, or null when it does
   * not load: given by the command, which knows how `run` applies the flags (harness/runner).
   */
  suiteConfigHash(file: string, flags: SuiteFlags): string | null;
}

export interface ExportedFile {
  /** Relative to the output folder. */
  path: string;
  bytes: number;
}

export interface ExportPatternsResult {
  runs: number;
  tokens: number;
  samples: number;
  files: ExportedFile[];
}

/** Every file an export writes, relative to its folder. */
export const EXPORT_FILES = ['data/tokens.parquet', 'data/samples.parquet', 'schema/tokens.schema.json', 'schema/samples.schema.json', 'README.md'] as const;

/**
 * A previous export: only these files, and the card's marker right under its YAML header, which is
 * short (the Hub's fields and the model names), so a bounded head of the card holds it.
 */
export const PREVIOUS_EXPORT: OutputSignature = {
  files: EXPORT_FILES,
  marker: { file: 'README.md', text: `\n---\n${CARD_MARKER}\n`, headBytes: 64 * 1024 },
};

const SCHEMA_DIR = packagePath('reports', 'pattern-schemas');
const PACKAGE_JSON = packagePath('package.json');
const TABLES = ['tokens', 'samples'] as const;
type TableName = (typeof TABLES)[number];

interface RowSchema {
  properties: Record<string, { description: string }>;
}

function readSchema(table: TableName): RowSchema {
  return JSON.parse(readFileSync(join(SCHEMA_DIR, `${table}.schema.json`), 'utf8')) as RowSchema;
}

/**
 * The card's field list: the schema's descriptions with the types of the file as written. A column
 * the schema lacks, or the other way round, is a bug in this export, and it must not publish a
 * dataset whose documentation is wrong.
 */
function fieldsOf(table: TableName, schema: RowSchema, columns: ParquetColumn[]): CardField[] {
  const documented = Object.keys(schema.properties);
  const written = columns.map((c) => c.name);
  if (documented.join(',') !== written.join(',')) {
    throw new Error(`data/${table}.parquet has columns ${written.join(', ')} but schema/${table}.schema.json documents ${documented.join(', ')}`);
  }
  return columns.map((c) => ({ name: c.name, type: c.type, description: (schema.properties[c.name] as { description: string }).description }));
}

interface SourceConfig {
  kind?: string;
  dataset?: string;
  split?: string;
  generator?: string;
  seed?: number;
  options?: { corpus?: string };
  /** A `file` source: the user's file as the task named it, and its content hash. */
  path?: string;
  sha256?: string;
}

/** Where a suite's items come from and under which license, from its stored config and the manifests. */
function suiteSource(suiteConfig: unknown): { source: string; license: string } {
  const source = (suiteConfig as { source?: SourceConfig } | null)?.source;
  const manifestOf = (name: string, what: string): { source: string; license: string } => {
    try {
      const m = loadManifest(name);
      return { source: `${what} (${m.homepage})`, license: m.license };
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      return { source: what, license: `unknown (no datasets/manifests/${name}.yaml)` };
    }
  };
  if (source?.kind === 'dataset' && source.dataset !== undefined) {
    return manifestOf(source.dataset, `dataset ${source.dataset}, ${source.split ?? '?'} split`);
  }
  if (source?.kind === 'generator' && source.generator !== undefined) {
    const corpus = source.options?.corpus;
    if (corpus !== undefined) return manifestOf(corpus, `generator ${source.generator} over ${corpus}, seed ${source.seed ?? '?'}`);
    // Synthetic items are flexibench's own output, under flexibench's license.
    const own = (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { license?: string }).license ?? 'unknown';
    return { source: `synthetic, flexibench generator ${source.generator}, seed ${source.seed ?? '?'}`, license: own };
  }
  if (source?.kind === 'file' && source.path !== undefined) {
    // The file's name only: the task may have named it by a path of the machine that ran it.
    return { source: `the user's own file ${basename(source.path)} (sha256 ${source.sha256 ?? '?'})`, license: "unknown (the user's own file)" };
  }
  return { source: 'unknown (the run stored no suite config)', license: 'unknown (the run stored no suite config)' };
}

function cardModels(runs: readonly ExportRun[]): CardModel[] {
  const byHash = new Map<string, CardModel>();
  for (const r of runs) {
    const m = byHash.get(r.model_hash) ?? { hash: r.model_hash, dirs: [], layersTotal: r.layers_total, routingLayers: [] };
    // The name only: the card is published, and the rest of the path is the producing machine's.
    const name = folderName(r.model_dir);
    if (!m.dirs.includes(name)) m.dirs.push(name);
    // A full run stores no routing layers; the checkpoint's are those of its flexidepth runs.
    if (r.routing_layers.length > m.routingLayers.length) m.routingLayers = r.routing_layers;
    byHash.set(r.model_hash, m);
  }
  return [...byHash.values()].sort((a, b) => a.hash.localeCompare(b.hash));
}

/**
 * Whether git says a clone of this repository has `file` (relative to the root). Where git cannot
 * tell (no git, no work tree, a repository it will not read), the content hash alone decides.
 */
function inClone(file: string): boolean {
  const r = spawnSync('git', ['ls-files', '--error-unmatch', '--', `:(literal)${file}`], { cwd: PACKAGE_ROOT, stdio: 'ignore', timeout: 10_000 });
  // 1: git read the index and the file is not in it (a folder ignored or never added, such as training/runs/).
  return r.status !== 1;
}

/** Folders inside flexibench's repository where the checkpoint a run used from `dir` may be. */
function repositoryCandidates(dir: string): string[] {
  const name = folderName(dir);
  return [
    // Runs started from the repository's root, which `run`'s default model (an absolute path) is.
    resolve(PACKAGE_ROOT, dir),
    resolve(dir),
    // A study made from another clone, or on another machine, with one of the repository's models.
    ...(name === '' || name === '.' || name === '..' ? [] : [packagePath('models', name)]),
  ];
}

/** `path` relative to the repository's root with '/' between components, when it lies inside it. */
function repositoryPath(path: string): string | null {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return null;
  }
  const rel = relative(PACKAGE_ROOT, real);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? null : rel.split(sep).join('/');
}

/**
 * What the card passes as --model for each checkpoint (by content hash): a folder of flexibench's
 * repository when it holds that very checkpoint and a clone has it (git tracks it), looked for where
 * the runs' folders point and under models/ by the folders' names; otherwise a placeholder naming
 * the hash. Never the stored folder: it is a path on the machine that ran the study.
 */
function publishedFolders(runs: readonly ExportRun[]): Map<string, string> {
  const hashes = new Map<string, string | null>();
  const hashOf = (rel: string): string | null => {
    if (!hashes.has(rel)) {
      let hash: string | null = null;
      try {
        if (statSync(packagePath(rel)).isDirectory() && inClone(`${rel}/config.json`)) hash = loadCheckpoint(packagePath(rel)).contentHash;
      } catch {
        // Not a checkpoint, or not readable: it cannot be the run's.
      }
      hashes.set(rel, hash);
    }
    return hashes.get(rel) ?? null;
  };
  const found = new Map<string, string | null>();
  for (const r of runs) {
    if (typeof found.get(r.model_hash) === 'string') continue;
    const rel = repositoryCandidates(r.model_dir)
      .map(repositoryPath)
      .find((p) => p !== null && hashOf(p) === r.model_hash);
    found.set(r.model_hash, rel ?? null);
  }
  return new Map([...found].map(([hash, rel]) => [hash, rel ?? checkpointPlaceholder(hash)]));
}

/** Names a task YAML could have in tasks/: no folder, no option, nothing git or a shell reads specially. */
const PLAIN_SUITE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** A git commit as `run` records it (harness/runner/metadata.ts), without its `-dirty` mark. */
function commitOf(revision: string | null): string | null {
  const commit = revision?.replace(/-dirty$/, '') ?? null;
  return commit !== null && /^[0-9a-f]{7,64}$/.test(commit) ? commit : null;
}

/**
 * The YAMLs that could be a run's tasks/<suite>.yaml: this clone's, when git tracks it (an untracked
 * file there is the user's own), and the repository's at the run's commit, written to `scratch`,
 * since a run made at another revision was given that one.
 */
function repositoryTaskFiles(run: ExportRun, scratch: string): string[] {
  if (!PLAIN_SUITE_NAME.test(run.suite)) return [];
  const rel = `tasks/${run.suite}.yaml`;
  const files: string[] = [];
  const here = packagePath(rel);
  if (existsSync(here) && inClone(rel)) files.push(here);
  const commit = commitOf(run.git_revision);
  if (commit !== null) {
    const shown = spawnSync('git', ['show', `${commit}:${rel}`], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    if (shown.status === 0) {
      const dir = join(scratch, commit);
      mkdirSync(dir, { recursive: true });
      // The file name is the suite's: a task's name must be its file's.
      writeFileSync(join(dir, `${run.suite}.yaml`), shown.stdout);
      files.push(join(dir, `${run.suite}.yaml`));
    }
  }
  return files;
}

/** The flags a stored config has, as `run` would be given them to make it from its YAML. */
function storedFlags(config: unknown): SuiteFlags {
  const c = config as { fewshot?: { count?: unknown }; generation?: { max_new_tokens?: unknown } } | null;
  const count = c?.fewshot?.count;
  const maxNew = c?.generation?.max_new_tokens;
  return { ...(typeof count === 'number' ? { numFewshot: count } : {}), ...(typeof maxNew === 'number' ? { maxNewTokens: maxNew } : {}) };
}

/** The subsets of `flags`, fewest first: the first that gives the stored config is what the command needs. */
function flagSubsets(flags: SuiteFlags): SuiteFlags[] {
  const few = flags.numFewshot !== undefined ? { numFewshot: flags.numFewshot } : null;
  const max = flags.maxNewTokens !== undefined ? { maxNewTokens: flags.maxNewTokens } : null;
  return [{}, ...(few ? [few] : []), ...(max ? [max] : []), ...(few && max ? [{ ...few, ...max }] : [])];
}

/**
 * How the card names each run's suite config. The stored run keeps the config and its hash but not
 * the file it came from, so the config hash decides: a repository YAML (tasks/<suite>.yaml of this
 * clone or at the run's commit) that gives it, with the fewest flags, is named by the suite; any
 * other config is the user's own YAML, named by its file name (the suite's name, which a task's
 * file name is, with .yaml) and given the stored flags, which make the stored config from the YAML
 * whether or not the run overrode it.
 */
function suiteOrigins(runs: readonly ExportRun[], configHash: ExportPatternsOptions['suiteConfigHash']): Map<string, SuiteOrigin> {
  const scratch = mkdtempSync(join(tmpdir(), 'flexibench-export-tasks-'));
  const known = new Map<string, SuiteOrigin>();
  try {
    const origins = new Map<string, SuiteOrigin>();
    for (const r of runs) {
      const flags = storedFlags(r.suite_config);
      const key = JSON.stringify([r.suite, r.suite_config_hash, r.git_revision, flags]);
      let origin = known.get(key);
      if (origin === undefined) {
        const files = repositoryTaskFiles(r, scratch);
        const matching = flagSubsets(flags).find((f) => files.some((file) => configHash(file, f) === r.suite_config_hash));
        origin = matching !== undefined ? { suites: r.suite, own: false, ...matching } : { suites: `${folderName(r.suite)}.yaml`, own: true, ...flags };
        known.set(key, origin);
      }
      origins.set(r.run_id, origin);
    }
    return origins;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function cardSuites(runs: readonly ExportRun[]): CardSuite[] {
  const byName = new Map<string, CardSuite>();
  for (const r of [...runs].sort((a, b) => a.suite.localeCompare(b.suite))) {
    let s = byName.get(r.suite);
    if (s === undefined) {
      s = { name: r.suite, configHashes: [], ...suiteSource(r.suite_config), samples: 0, tokens: 0 };
      byName.set(r.suite, s);
    }
    if (!s.configHashes.includes(r.suite_config_hash)) s.configHashes.push(r.suite_config_hash);
    s.samples += r.samples;
    s.tokens += r.tokens;
  }
  return [...byName.values()];
}

const total = (runs: readonly ExportRun[], key: 'samples' | 'tokens'): number => runs.reduce((n, r) => n + r[key], 0);

export async function exportPatterns(opts: ExportPatternsOptions): Promise<ExportPatternsResult> {
  const folder = { force: opts.force, isPreviousOutput: (dir: string) => holdsOnlyOutput(dir, PREVIOUS_EXPORT), what: 'export-patterns --out' };
  // Before the study is opened: a refused folder should not wait on a large database.
  checkOutputFolder(opts.outDir, folder);
  const db = await StudyDb.open(opts.dbPath, { readOnly: true });
  try {
    const studySuites = await db.read(readStudySuites);
    if (studySuites.length === 0) throw new UserError(`${opts.dbPath}: the study has no runs; nothing to export`);
    const suites = opts.suites ?? studySuites;
    const unknown = suites.find((s) => !studySuites.includes(s));
    if (unknown !== undefined) throw new UserError(`export-patterns: unknown suite '${unknown}' in --suites (the study has: ${studySuites.join(', ')})`);
    const runs = await db.read((conn) => readExportRuns(conn, suites));
    const expected = { tokens: total(runs, 'tokens'), samples: total(runs, 'samples') };
    if (expected.samples === 0) {
      throw new UserError(
        `${opts.dbPath}: no samples ${opts.suites === null ? 'in the study' : `in suite${suites.length === 1 ? '' : 's'} ${suites.join(', ')}`}; nothing to export`,
      );
    }

    const files: ExportedFile[] = [];
    await writeOutputFolder(opts.outDir, folder, async (tmp) => {
      mkdirSync(join(tmp, 'data'));
      mkdirSync(join(tmp, 'schema'));
      const path = (table: TableName): string => join(tmp, 'data', `${table}.parquet`);
      const spillDir = join(tmp, '.spill');
      const copied = await db.read((conn) => copyPatternFiles(conn, { tokensFile: path('tokens'), samplesFile: path('samples'), spillDir }, suites));
      rmSync(spillDir, { recursive: true, force: true });
      if (copied.tokens !== expected.tokens || copied.samples !== expected.samples) {
        throw new Error(`wrote ${copied.tokens} token and ${copied.samples} sample rows, the study has ${expected.tokens} and ${expected.samples}`);
      }
      const fields = {} as Record<TableName, CardField[]>;
      for (const table of TABLES) {
        fields[table] = fieldsOf(table, readSchema(table), await db.read((conn) => readParquetColumns(conn, path(table))));
        copyFileSync(join(SCHEMA_DIR, `${table}.schema.json`), join(tmp, 'schema', `${table}.schema.json`));
      }
      const folders = publishedFolders(runs);
      const origins = suiteOrigins(runs, opts.suiteConfigHash);
      const card = renderDatasetCard({
        models: cardModels(runs),
        suites: cardSuites(runs),
        runs: runs.map((r) => ({ ...r, model_dir: folders.get(r.model_hash) as string, suite_origin: origins.get(r.run_id) as SuiteOrigin })),
        tokens: { name: 'tokens', rows: copied.tokens, order: TOKEN_ORDER, fields: fields.tokens },
        samples: { name: 'samples', rows: copied.samples, order: SAMPLE_ORDER, fields: fields.samples },
        exportCommand: exportCommandFor(opts.suites),
      });
      writeFileSync(join(tmp, 'README.md'), card);
      for (const rel of EXPORT_FILES) {
        files.push({ path: rel, bytes: statSync(join(tmp, rel)).size });
      }
    });
    return { runs: runs.length, ...expected, files };
  } finally {
    await db.close();
  }
}
