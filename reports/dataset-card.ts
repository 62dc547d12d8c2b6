/**
 * The README.md of an exported layer-pattern dataset (`flexibench export-patterns`): the YAML header
 * the Hugging Face Hub reads, then what the rows are, where they came from, how to regenerate them,
 * every field, which token a depth belongs to, and how to load the files. Pure functions: the
 * export (reports/export-patterns.ts) gathers the facts, these only write text, so the same facts
 * always give the same card.
 */
import { isAbsolute } from 'node:path';
import { stringify } from 'yaml';
import { escapeControlChars, hasControlChars } from '../src/control-chars.ts';
import { isComparator } from '../src/model/variants.ts';
import type { ExportRun } from '../src/store/pattern-export-reads.ts';
import { DEFAULT_DB } from '../src/store/study-db.ts';
import { markdownCode as code, markdownFence, markdownTable as table, markdownText as text } from './markdown.ts';
import { isFp32, precisionLabel } from './precision.ts';

export interface CardModel {
  hash: string;
  /**
   * Folders the runs of this checkpoint were started with. Only the last component of each is
   * shown (the model's name in the title): the rest is a path of the producing machine.
   */
  dirs: string[];
  layersTotal: number;
  routingLayers: number[];
}

export interface CardSuite {
  name: string;
  /** One per distinct config the study ran the suite with (normally one). */
  configHashes: string[];
  /** Where the suite's items come from, in words. */
  source: string;
  /** The source's license as its manifest states it; `unknown ...` when it cannot be told. */
  license: string;
  samples: number;
  tokens: number;
}

export interface CardField {
  name: string;
  /** The column type as DuckDB reads the Parquet file back. */
  type: string;
  description: string;
}

export interface CardTable {
  /** Config name on the Hub and file stem: `tokens` or `samples`. */
  name: 'tokens' | 'samples';
  rows: number;
  order: readonly string[];
  fields: CardField[];
}

/**
 * How the card's commands name a run's suite config; the export decides it (suiteOrigins in
 * export-patterns.ts), since the stored run keeps the config but not the file it was read from.
 */
export interface SuiteOrigin {
  /**
   * What `--suites` gets: the suite's name when a clone's `tasks/<suite>.yaml` gives the stored
   * config, else the user's own YAML by its file name only (never a folder of the producing machine).
   */
  suites: string;
  /** true: a YAML from outside tasks/ (a path or an --include-path folder), which the publisher publishes with the card. */
  own: boolean;
  /** --num-fewshot and --max-new-tokens the command passes; absent where the YAML's own value is the run's. */
  numFewshot?: number;
  maxNewTokens?: number;
}

/** A run as the card shows it; without `suite_origin`, the suite is the repository's tasks/<suite>.yaml as it is. */
export type CardRun = ExportRun & { suite_origin?: SuiteOrigin };

export interface DatasetCardData {
  models: CardModel[];
  suites: CardSuite[];
  /**
   * The runs, each with `model_dir` as the card names the checkpoint's folder: where a clone of
   * flexibench holds it, or checkpointPlaceholder's text (the export decides which). A card is
   * published, so it never holds a path of the machine that produced it.
   */
  runs: CardRun[];
  tokens: CardTable;
  samples: CardTable;
  /** The export command as the reader runs it after the runs' commands (exportCommandFor), shell-quoted. */
  exportCommand: string;
}

/** Where the card's commands put the study and the dataset: `run`'s default study, and a plain folder name. */
export const CARD_DB = DEFAULT_DB;
export const CARD_OUT = 'patterns';

/**
 * What the card's commands pass as --model for a checkpoint that no clone of flexibench holds: a
 * placeholder the reader replaces with the folder they keep it in, naming it by content hash (in
 * full in the model table), since the folder it was run from exists only on the producing machine.
 */
export function checkpointPlaceholder(hash: string): string {
  const chars = [...hash];
  const short = chars.length > 12 ? `${chars.slice(0, 12).join('')}…` : hash;
  return `<folder of the checkpoint with content hash ${short}>`;
}

/**
 * The `flexibench export-patterns` that writes this dataset again from the study the card's run
 * commands make: the same suites, with the neutral names the card uses for the study and folder
 * rather than the paths it was exported from and to.
 */
export function exportCommandFor(suites: readonly string[] | null): string {
  const words = ['flexibench', 'export-patterns', '--db', CARD_DB, '--out', CARD_OUT];
  if (suites !== null) words.push('--suites', suites.join(','));
  return words.map(shellQuote).join(' ');
}

/** Licenses the Hub knows by id, keyed by how datasets/manifests/*.yaml and package.json spell them. */
const HUB_LICENSE_IDS: Readonly<Record<string, string>> = {
  MIT: 'mit',
  'Apache-2.0': 'apache-2.0',
};

/** The Hub's size_categories bins, upper bounds exclusive. */
const SIZE_BINS: readonly [number, string][] = [
  [1e3, 'n<1K'],
  [1e4, '1K<n<10K'],
  [1e5, '10K<n<100K'],
  [1e6, '100K<n<1M'],
  [1e7, '1M<n<10M'],
  [1e8, '10M<n<100M'],
  [1e9, '100M<n<1B'],
  [1e10, '1B<n<10B'],
  [1e11, '10B<n<100B'],
  [1e12, '100B<n<1T'],
];

export function sizeCategory(rows: number): string {
  for (const [limit, name] of SIZE_BINS) if (rows < limit) return name;
  return 'n>1T';
}

/**
 * The card's `license`: one Hub id only when every suite's source has that same plain license;
 * `other` as soon as one differs, is qualified ("... for research use") or unknown, because a
 * single id would then claim more than the sources grant.
 */
export function cardLicense(suiteLicenses: readonly string[]): string {
  const ids = new Set(suiteLicenses.map((l) => HUB_LICENSE_IDS[l] ?? 'other'));
  return ids.size === 1 ? ([...ids][0] as string) : 'other';
}

/**
 * Bash's ANSI-C quoting ($'...'): backslash and quote escaped, each control character as its UTF-8
 * bytes (`\xHH`), which bash reads back the same in any locale.
 */
function ansiCQuote(word: string): string {
  const escaped = [...word].map((c) => {
    if (c === '\\' || c === "'") return `\\${c}`;
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (!hasControlChars(c)) return c;
    return [...Buffer.from(c, 'utf8')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  });
  return `$'${escaped.join('')}'`;
}

/**
 * A word as bash reads it back unchanged, on one line: single quotes, or $'...' for a word with a
 * line break or another control character, so a path holding a newline can neither end the command
 * nor end the code block it is shown in, and its copy is still one word.
 */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return hasControlChars(word) ? ansiCQuote(word) : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The --max-length a run was started with: stored in its generation settings only when given. */
function maxLengthOf(run: ExportRun): number | null {
  const generation = run.generation as { max_length?: unknown } | null | undefined;
  return typeof generation?.max_length === 'number' ? generation.max_length : null;
}

/** The --static-layers a static run was started with: it stores no FlexiDepth mean when K was given. */
function staticLayersOf(run: ExportRun): number | null {
  const c = run.comparator as ExportRun['comparator'] | undefined;
  return c?.kind === 'static' && c.flexidepth_skips_mean === null ? c.removed_layers.length : null;
}

/** The suite's config as a run's origin says it is named: by default tasks/<suite>.yaml as it is. */
function originOf(run: CardRun): SuiteOrigin {
  return run.suite_origin ?? { suites: run.suite, own: false };
}

/**
 * The `flexibench run` that recreates a run: every part of the stored run identity that the
 * command line sets. The identity's remaining parts (the suite's config and generation settings,
 * the weights) come from the checkpoint and the suite's YAML (tasks/<suite>.yaml, or the user's own
 * as SuiteOrigin names it), which the card pins by hash, with --num-fewshot and --max-new-tokens
 * where the origin says the run's config needs them. A run without a limit is a run over every
 * item, which is what `run --suites` does without --limit.
 * fp32 is what `run` does without --precision, a run stores a block size only when it was not the
 * default, and a max length only when --max-length was given. `run.model_dir` is the folder as
 * the card names it (DatasetCardData.runs). The study is `run`'s default, CARD_DB.
 */
export function reproduceCommand(run: CardRun): string {
  const origin = originOf(run);
  const words = ['flexibench', 'run', '--model', run.model_dir, '--suites', origin.suites];
  if (origin.numFewshot !== undefined) words.push('--num-fewshot', String(origin.numFewshot));
  if (origin.maxNewTokens !== undefined) words.push('--max-new-tokens', String(origin.maxNewTokens));
  words.push('--variants', run.variant);
  const staticLayers = staticLayersOf(run);
  if (staticLayers !== null) words.push('--static-layers', String(staticLayers));
  if (!isFp32(run)) words.push('--precision', run.precision);
  if (run.block_size !== null) words.push('--block-size', String(run.block_size));
  const maxLength = maxLengthOf(run);
  if (maxLength !== null) words.push('--max-length', String(maxLength));
  if (run.limit !== null) words.push('--limit', String(run.limit));
  // The threshold is part of a full run's identity too: leaving it out would make another run id.
  words.push('--seed', String(run.seed), '--threshold', String(run.threshold));
  return words.map(shellQuote).join(' ');
}

const thousands = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** A folder's name: its last path component, the one part of a stored model folder the card shows. */
export function folderName(dir: string): string {
  return (
    dir
      .replace(/[\\/]+$/, '')
      .split(/[\\/]/)
      .pop() ?? dir
  );
}

/** Model folder names, for the title. */
function modelNames(models: readonly CardModel[]): string[] {
  return [...new Set(models.flatMap((m) => m.dirs.map(folderName)))];
}

/**
 * The card's `pretty_name`, with the model names when they are plain words: tools that show it
 * may not escape it, and a renderer that does not know YAML headers shows the header as Markdown.
 */
function prettyName(models: readonly CardModel[]): string {
  const names = modelNames(models);
  const plain = names.every((n) => /^[\p{L}\p{N} ._+@-]+$/u.test(n));
  return plain ? `FlexiDepth layer patterns (${names.join(', ')})` : 'FlexiDepth layer patterns';
}

export function cardHeader(data: DatasetCardData): string {
  const license = cardLicense(data.suites.map((s) => s.license));
  const meta = {
    pretty_name: prettyName(data.models),
    license,
    // The Hub asks for a name when the license is `other`; the card's License section is the text.
    ...(license === 'other' ? { license_name: 'per-suite-source-licenses' } : {}),
    language: ['en'],
    task_categories: ['text-generation'],
    size_categories: [...new Set([data.samples.rows, data.tokens.rows].map(sizeCategory))],
    tags: ['flexidepth', 'layer-skipping', 'adaptive-computation', 'dynamic-depth', 'interpretability', 'flexibench'],
    configs: [data.tokens, data.samples].map((t, i) => ({
      config_name: t.name,
      data_files: [{ split: 'train', path: `data/${t.name}.parquet` }],
      ...(i === 0 ? { default: true } : {}),
    })),
  };
  return `---\n${stringify(meta, { lineWidth: 0 })}---\n`;
}

function introSection(data: DatasetCardData): string {
  const variants = [...new Set(data.runs.map((r) => r.variant))].sort();
  return [
    `# FlexiDepth layer patterns: ${modelNames(data.models).map(text).join(', ')}`,
    '',
    'Per-token layer allocations of a FlexiDepth model (adaptive layer skipping, arXiv 2503.23798) ' +
      (variants.includes('full') ? 'and of its full-depth baseline (the same weights with the routers ignored) ' : '') +
      (variants.some(isComparator)
        ? 'and of layer-skipping comparators matched to its layer budget (`static`, `random`; see "Which token a depth belongs to") '
        : '') +
      `on ${data.suites.length} evaluation suite${data.suites.length === 1 ? '' : 's'}, exported from a flexibench study.`,
    '',
    `- \`tokens\` (${code(`data/${data.tokens.name}.parquet`)}): ${thousands(data.tokens.rows)} rows, one per position of every prompt and generation, with the layers used, the routed-layer mask and the router gates at that position.`,
    `- \`samples\` (${code(`data/${data.samples.name}.parquet`)}): ${thousands(data.samples.rows)} rows, one per suite item and run, with prompt, output, reference, scores and timings.`,
    `- \`schema/tokens.schema.json\`, \`schema/samples.schema.json\`: JSON Schemas (draft-07) of one row of each file.`,
  ].join('\n');
}

function modelSection(data: DatasetCardData): string {
  const rows = data.models.map((m) => [
    code(m.hash),
    // One name per checkpoint as the export gives it; a card built from other runs lists each.
    [...new Set(data.runs.filter((r) => r.model_hash === m.hash).map((r) => r.model_dir))].map(code).join(', '),
    String(m.layersTotal),
    m.routingLayers.length === 0 ? '-' : m.routingLayers.join(', '),
  ]);
  return [
    '## Model',
    '',
    "The checkpoint hash is sha256 over the checkpoint's `config.json` and safetensors files (names, sizes, bytes). " +
      "`--model` is the folder the commands below pass: the checkpoint's folder in flexibench's repository when the repository holds this very checkpoint, " +
      'otherwise a placeholder `<...>` to replace with the folder that holds the checkpoint with this hash.',
    '',
    table(['checkpoint hash', '`--model`', 'layers', 'routed layers (0-based)'], rows),
  ].join('\n');
}

function suitesSection(data: DatasetCardData): string {
  const rows = data.suites.map((s) => [
    text(s.name),
    s.configHashes.map(code).join(', '),
    text(s.source),
    text(s.license),
    thousands(s.samples),
    thousands(s.tokens),
  ]);
  return [
    '## Suites',
    '',
    data.runs.some((r) => originOf(r).own)
      ? 'The config hash is sha256 of the suite config the runs used (flexibench\'s `tasks/<suite>.yaml`, or the user\'s own YAML named in "How it was generated", as data, with any `--num-fewshot` or `--max-new-tokens` applied).'
      : "The config hash is sha256 of the suite config (flexibench's `tasks/<suite>.yaml`, as data) the runs used.",
    '',
    table(['suite', 'config hash', 'items from', 'source license', 'samples', 'tokens'], rows),
  ].join('\n');
}

/** A file a stored suite config names, as the card may show it: its name only, and the sha256 that pins it. */
function pinnedFile(what: string, file: unknown, sha256: unknown): string[] {
  if (typeof file !== 'string') return [];
  // The path is part of the config hash, so an absolute one ties the run to the producing machine's folders.
  const absolute = isAbsolute(file) ? '; the YAML names it by an absolute path, which is part of the config hash' : '';
  return [`${what} ${code(folderName(file))} (sha256 ${typeof sha256 === 'string' ? code(sha256) : 'not stored'}${absolute})`];
}

interface StoredFiles {
  source?: { kind?: unknown; path?: unknown; sha256?: unknown };
  fewshot?: { path?: unknown; sha256?: unknown };
}

/** One own YAML of the card at one config: what it is, and the user's files its stored config pins. */
function ownSuiteLine(run: CardRun): string {
  const config = run.suite_config as StoredFiles | null;
  const files = [
    ...(config?.source?.kind === 'file' ? pinnedFile('items from', config.source.path, config.source.sha256) : []),
    ...pinnedFile('few-shot examples from', config?.fewshot?.path, config?.fewshot?.sha256),
  ];
  const about = `- ${code(originOf(run).suites)}: suite ${text(run.suite)}, config hash ${code(run.suite_config_hash)}`;
  return files.length === 0 ? about : `${about}; ${files.join('; ')}`;
}

/**
 * What a reader needs beyond a clone for the runs of the user's own YAMLs: the YAMLs themselves,
 * and the files a `source: {kind: file}` suite reads, each pinned by the stored config's hashes.
 */
function ownSuitesText(runs: readonly CardRun[]): string[] {
  const lines = new Map<string, string>();
  for (const r of runs.filter((run) => originOf(run).own)) {
    const key = `${originOf(r).suites}\0${r.suite_config_hash}`;
    if (!lines.has(key)) lines.set(key, ownSuiteLine(r));
  }
  if (lines.size === 0) return [];
  return [
    '',
    "Runs whose command gives `--suites` a `.yaml` file used a suite config from outside flexibench's `tasks/` folder (the user's own YAML, given by its path or found through `--include-path`), which a clone does not have. " +
      'Those YAMLs must be published alongside this dataset; a reader saves each in the root of the clone under the file name the command gives (the card names no folder of the machine that made the runs). ' +
      "The config hash pins each, and a suite over the user's own file (`source: {kind: file}`) also needs that file, where the YAML's `source.path` (and `fewshot.path`) name it relative to the YAML, its content pinned by the sha256 in the stored config. " +
      "The commands carry the runs' `--num-fewshot` and `--max-new-tokens`: they give the stored config whether or not a run overrode the YAML's own values.",
    '',
    ...lines.values(),
  ];
}

function runsSection(data: DatasetCardData): string {
  // The column only where a run is not fp32, so a card of an fp32 study reads as it always did.
  const precisions = data.runs.some((r) => !isFp32(r));
  const rows = data.runs.map((r) => [
    code(r.run_id),
    text(r.suite),
    text(r.variant),
    String(r.threshold),
    ...(precisions ? [text(precisionLabel(r))] : []),
    String(r.seed),
    r.limit === null ? 'all' : String(r.limit),
    r.error_samples > 0 ? `${thousands(r.samples)} (${thousands(r.error_samples)} error)` : thousands(r.samples),
    thousands(r.tokens),
    r.git_revision === null ? '-' : code(r.git_revision.slice(0, 12)),
  ]);
  // A comment ends at a line break: the stored strings in it show theirs as escapes.
  const comment = (r: ExportRun): string =>
    `# run ${escapeControlChars(r.run_id)}: ${escapeControlChars(r.suite)}, ${escapeControlChars(r.variant)}, threshold ${r.threshold}` +
    (isFp32(r) ? '' : `, ${escapeControlChars(precisionLabel(r))} weights`);
  const commands = data.runs.flatMap((r) => [comment(r), reproduceCommand(r)]);
  const own = data.runs.some((r) => originOf(r).own);
  const overridden = data.runs.some((r) => !originOf(r).own && (originOf(r).numFewshot !== undefined || originOf(r).maxNewTokens !== undefined));
  return [
    '## How it was generated',
    '',
    'Every row comes from one run: a suite through one model variant at one threshold. Several runs of a suite (other thresholds, other models) are kept apart by `run_id`.',
    '',
    table(['run id', 'suite', 'variant', 'threshold', ...(precisions ? ['precision'] : []), 'seed', 'limit', 'samples', 'tokens', 'git revision'], rows),
    '',
    "Each run is recreated by the `flexibench run` below, reconstructed from the run's stored identity (checkpoint, suite, variant, weight precision, max length, limit, seed, threshold), from the root of a flexibench clone. " +
      `It makes the same run (same \`run_id\`, so it resumes into an existing study rather than duplicating it) when the clone is at the git revision listed, so that \`tasks/<suite>.yaml\`${own ? " (or the user's own YAML, below)" : ''} has the config hash above, and \`--model\` holds the checkpoint with the hash above (see "Model"). ` +
      (overridden
        ? "`--num-fewshot` and `--max-new-tokens` appear where a run overrode `tasks/<suite>.yaml`'s own values, as `run` took them; the config hash is of the config with them applied. "
        : '') +
      `Suites over a dataset read it from the data directory (\`flexibench data pull\` fetches it, checked by sha256). The runs write to ${code(CARD_DB)}, the study the export command reads. Timings depend on the machine.`,
    '',
    markdownFence('bash', commands.join('\n')),
    ...ownSuitesText(data.runs),
    '',
    'This dataset was then written from the study by:',
    '',
    markdownFence('bash', data.exportCommand),
  ].join('\n');
}

/** What the mask and gates of the comparator variants' rows mean, for the variants the export holds. */
function comparatorRowsText(variants: readonly string[]): string[] {
  const out: string[] = [];
  if (variants.includes('static'))
    out.push(
      " Static rows (ShortGPT-style removal: the k routed layers of least Block Influence are skipped by every token, k matched to FlexiDepth's mean skips per generated token at the run's `threshold` over the study's suites) have `mask[i]` true where routed layer `routing_layers[i]` was kept, empty `gates` (no router runs), and `layers_used` = `layers_total` - k at every position.",
    );
  if (variants.includes('random'))
    out.push(
      " Random rows draw each routed decision with a seeded coin at the rate FlexiDepth's run at the same `threshold` ran that layer on the suite: `mask[i]` is the draw (not `gates[i] > threshold`), `gates[i]` the router's value, and `layers_used` as for flexidepth rows.",
    );
  return out;
}

function depthSection(variants: readonly string[]): string {
  return [
    '## Which token a depth belongs to',
    '',
    "A token row holds the allocation computed by the forward pass at that position. That pass processes the row's token and predicts the next one, so " +
      '`layers_used`, `mask` and `gates` at position p are the depth spent to **produce the token at position p + 1**: generated token p was produced by the pass at position p - 1 ' +
      '(the first generated token by the last prompt position). The last row of a sample (its last generated token, run through the model once more) has a depth as well: what the model spent on the token that would have followed.',
    '',
    'The rows store this per-position depth as computed and nothing derived from it. "Layers used per generated token" (flexibench\'s reports, and the FlexiDepth paper\'s per-task tables) reads the row at p - 1 for each generated token p; ' +
      'the queries below show the shift. Do not mix the two readings in one table.',
    '',
    'Full-variant rows always have every layer: `layers_used` equals `layers_total`, and `mask` and `gates` are empty (no routing decisions are made). ' +
      'For flexidepth rows, `mask[i]` and `gates[i]` belong to routed layer `routing_layers[i]` (see the samples file or the model table), `mask[i]` is `gates[i] > threshold`, and `layers_used` is the number of unrouted layers plus the true entries of `mask`.' +
      comparatorRowsText(variants).join(''),
  ].join('\n');
}

function tokenBytesSection(data: DatasetCardData): string {
  const missing = data.runs.reduce((n, r) => n + r.tokens_without_bytes, 0);
  return [
    '## Token text and token bytes',
    '',
    '`token_text` is for reading. A character that the tokenizer splits over several tokens (a byte-fallback piece such as `<0xE6>`, or part of a byte-level BPE character) has no text of its own: ' +
      'it appears in the piece of the token that completes it, and the tokens before it have an empty piece. ' +
      "`token_bytes` is exact: each token's own bytes, in hex, so the pattern of every byte token is kept. " +
      "Joined over a sample's positions, they are the UTF-8 of the text the model read and wrote, with special tokens as their names (and, for a sentencepiece tokenizer, the space it puts before the text).",
    '',
    '```python',
    'tokens["raw"] = tokens["token_bytes"].map(lambda h: None if h is None else bytes.fromhex(h))',
    '```',
    ...(missing > 0
      ? [
          '',
          `${thousands(missing)} of the ${thousands(data.tokens.rows)} token rows have no \`token_bytes\` (null): their study stored them before flexibench kept token bytes.`,
        ]
      : []),
  ].join('\n');
}

function fieldsSection(tables: readonly CardTable[]): string {
  const parts = ['## Fields', '', 'Generated from `schema/*.schema.json`; types are the Parquet columns as DuckDB reads them.'];
  for (const t of tables) {
    parts.push(
      '',
      `### ${t.name} (${code(`data/${t.name}.parquet`)})`,
      '',
      `Rows are ordered by ${t.order.map(code).join(', ')}.`,
      '',
      table(
        ['column', 'type', 'description'],
        t.fields.map((f) => [code(f.name), code(f.type), text(f.description)]),
      ),
    );
  }
  return parts.join('\n');
}

function loadingSection(): string {
  return [
    '## Loading',
    '',
    'DuckDB (layers used per generated token, producing-position depth, done samples only):',
    '',
    '```sql',
    'SELECT left(t.model_hash, 12) AS model, t.suite, t.variant, t.threshold, t.precision,',
    '       avg(t.producing_layers) AS layers_per_generated_token, count(*) AS generated_tokens',
    'FROM (SELECT *, lag(layers_used) OVER (PARTITION BY run_id, doc_id ORDER BY position) AS producing_layers',
    "      FROM 'data/tokens.parquet') t",
    "JOIN 'data/samples.parquet' s ON s.run_id = t.run_id AND s.doc_id = t.doc_id AND s.status = 'done'",
    "WHERE t.phase = 'generated'",
    'GROUP BY ALL ORDER BY ALL;',
    '```',
    '',
    'pandas (rows are already in position order within each sample):',
    '',
    '```python',
    'import pandas as pd',
    '',
    'tokens = pd.read_parquet("data/tokens.parquet")',
    'samples = pd.read_parquet("data/samples.parquet")',
    'tokens["producing_layers"] = tokens.groupby(["run_id", "doc_id"])["layers_used"].shift(1)',
    'done = samples.loc[samples.status == "done", ["run_id", "doc_id"]]',
    'generated = tokens[tokens.phase == "generated"].merge(done, on=["run_id", "doc_id"])',
    'print(generated.groupby(["model_hash", "suite", "variant", "threshold", "precision"])["producing_layers"].mean())',
    '```',
    '',
    'Hugging Face `datasets`:',
    '',
    '```python',
    'from datasets import load_dataset',
    '',
    'tokens = load_dataset("parquet", data_files={"train": "data/tokens.parquet"}, split="train")',
    'samples = load_dataset("parquet", data_files={"train": "data/samples.parquet"}, split="train")',
    '# once uploaded to the Hub: load_dataset("<owner>/<name>", "tokens", split="train")',
    '```',
  ].join('\n');
}

function licenseSection(data: DatasetCardData): string {
  const id = cardLicense(data.suites.map((s) => s.license));
  return [
    '## License',
    '',
    id === 'other'
      ? "The suites' items come from sources under different terms, so this dataset has no single license: each suite's rows (prompts, references, and the outputs and tokens that continue them) follow the source's terms below."
      : `Every suite's source is under ${id}; the rows follow it.`,
    '',
    table(
      ['suite', 'source license'],
      data.suites.map((s) => [text(s.name), text(s.license)]),
    ),
    '',
    'The outputs, token pieces and layer allocations were produced by the checkpoint listed above; any terms attached to that model also apply to them, and this export cannot know them.',
  ].join('\n');
}

/**
 * The line after the YAML header that tells a reader, and `export-patterns`, that the folder is an
 * export: exporting to it again replaces it without --force (PREVIOUS_EXPORT in export-patterns.ts).
 * A comment, so the Hub and other renderers show nothing of it.
 */
export const CARD_MARKER = '<!-- Written by `flexibench export-patterns`: exporting to this folder again replaces it, edits included. -->';

export function renderDatasetCard(data: DatasetCardData): string {
  // A card is published: a stored folder here would name the producing machine's files.
  const absolute = data.runs.find((r) => isAbsolute(r.model_dir));
  if (absolute !== undefined) throw new Error(`run ${absolute.run_id}: the card was given its stored model folder, not the name it publishes`);
  const ownPath = data.runs.find((r) => originOf(r).own && /[\\/]/.test(originOf(r).suites));
  if (ownPath !== undefined) throw new Error(`run ${ownPath.run_id}: the card was given a path for the suite's own YAML, not the file name it publishes`);
  const sections = [
    introSection(data),
    modelSection(data),
    suitesSection(data),
    runsSection(data),
    depthSection([...new Set(data.runs.map((r) => r.variant))]),
    tokenBytesSection(data),
    fieldsSection([data.tokens, data.samples]),
    loadingSection(),
    licenseSection(data),
  ];
  return `${cardHeader(data)}${CARD_MARKER}\n\n${sections.join('\n\n')}\n`;
}
