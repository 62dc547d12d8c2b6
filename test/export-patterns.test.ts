import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { StudyDb } from '../src/store/study-db.ts';
import { stableJsonHash } from '../src/canonical-json.ts';
import { loadTaskSpec } from '../tasks/suites/spec.ts';
import { specContent } from '../harness/runner/plan.ts';
import { flexibench } from './cli.ts';
import { buildStudy, identity, metadata, queryStudyFile, sample, tempDir, tokensFromMasks } from './store-fixtures.ts';

type Row = Record<string, unknown>;

/** The columns the card documents, with the types DuckDB reads back from the Parquet files. */
const TOKEN_COLUMNS: [string, string][] = [
  ['run_id', 'VARCHAR'],
  ['model_hash', 'VARCHAR'],
  ['suite', 'VARCHAR'],
  ['variant', 'VARCHAR'],
  ['threshold', 'DOUBLE'],
  ['precision', 'VARCHAR'],
  ['block_size', 'INTEGER'],
  ['doc_id', 'VARCHAR'],
  ['doc_index', 'INTEGER'],
  ['position', 'INTEGER'],
  ['token_id', 'INTEGER'],
  ['token_text', 'VARCHAR'],
  ['token_bytes', 'VARCHAR'],
  ['phase', 'VARCHAR'],
  ['layers_used', 'SMALLINT'],
  ['layers_total', 'SMALLINT'],
  ['mask', 'BOOLEAN[]'],
  ['gates', 'FLOAT[]'],
];
const SAMPLE_COLUMNS: [string, string][] = [
  ['run_id', 'VARCHAR'],
  ['model_hash', 'VARCHAR'],
  ['suite', 'VARCHAR'],
  ['variant', 'VARCHAR'],
  ['threshold', 'DOUBLE'],
  ['precision', 'VARCHAR'],
  ['block_size', 'INTEGER'],
  ['doc_id', 'VARCHAR'],
  ['doc_index', 'INTEGER'],
  ['status', 'VARCHAR'],
  ['error', 'VARCHAR'],
  ['prompt', 'VARCHAR'],
  ['output', 'VARCHAR'],
  ['reference', 'VARCHAR'],
  ['metrics', 'VARCHAR'],
  ['prompt_tokens', 'INTEGER'],
  ['truncated_tokens', 'INTEGER'],
  ['generated_tokens', 'INTEGER'],
  ['prefill_ms', 'DOUBLE'],
  ['decode_ms', 'DOUBLE'],
  ['stop_reason', 'VARCHAR'],
  ['layers_total', 'SMALLINT'],
  ['routing_layers', 'SMALLINT[]'],
];

/** The same rows, read from the study itself, in the order the export promises. */
const DB_TOKENS = `
  SELECT t.run_id, r.model_hash, r.suite, r.variant, r.threshold, coalesce(r.identity->>'precision', 'fp32') AS precision,
         TRY_CAST(r.identity->>'block_size' AS INTEGER) AS block_size, t.doc_id, s.doc_index, t.position, t.token_id,
         t.text AS token_text, lower(hex(t.bytes)) AS token_bytes, t.phase, t.layers_used, r.layers_total::SMALLINT AS layers_total, t.mask, t.gates
  FROM tokens t JOIN runs r USING (run_id) JOIN samples s USING (run_id, doc_id)
  ORDER BY r.model_hash, r.suite, r.variant, r.threshold, precision, block_size, t.run_id, s.doc_index, t.doc_id, t.position`;
const DB_SAMPLES = `
  SELECT s.run_id, r.model_hash, r.suite, r.variant, r.threshold, coalesce(r.identity->>'precision', 'fp32') AS precision,
         TRY_CAST(r.identity->>'block_size' AS INTEGER) AS block_size, s.doc_id, s.doc_index, s.status, s.error, s.prompt, s.output,
         s.reference, s.metrics::VARCHAR AS metrics, s.prompt_tokens, s.truncated_tokens, s.generated_tokens, s.prefill_ms, s.decode_ms, s.stop_reason,
         r.layers_total::SMALLINT AS layers_total, r.routing_layers::SMALLINT[] AS routing_layers
  FROM samples s JOIN runs r USING (run_id)
  ORDER BY r.model_hash, r.suite, r.variant, r.threshold, precision, block_size, s.run_id, s.doc_index, s.doc_id`;

async function query(sql: string): Promise<Row[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJson() as Row[];
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

const parquet = (out: string, table: string): string => `read_parquet('${join(out, 'data', `${table}.parquet`)}')`;

function schemaValidator(name: string): ValidateFunction {
  const ajv = new Ajv({ strict: true, allErrors: true });
  return ajv.compile(JSON.parse(readFileSync(new URL(`../reports/pattern-schemas/${name}.schema.json`, import.meta.url), 'utf8')) as object);
}

/** The YAML between the card's leading `---` lines, and the Markdown after it. */
function splitCard(card: string): { header: Row; body: string } {
  const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(card);
  if (m === null) throw new Error('the card has no YAML header');
  return { header: parseYaml(m[1] as string) as Row, body: m[2] as string };
}

describe('flexibench export-patterns', () => {
  let dir: string;
  let study: string;
  let outRoot: string;
  let out: string;
  let studyBytes: Buffer;
  let studyFolder: string[];
  let firstRun: ReturnType<typeof flexibench>;

  beforeAll(async () => {
    dir = tempDir('flexibench-export-');
    study = join(dir, 'study.duckdb');
    const db = await StudyDb.open(study);
    await buildStudy(db);
    // A second suite at another threshold, stored as `run` stores tasks/copy.yaml: the card finds its source, and names it as the repository's.
    const copyConfig = specContent(loadTaskSpec('copy'));
    const { runId: copyRun } = await db.ensureRun(
      identity({ suite: 'copy', suiteConfigHash: stableJsonHash(copyConfig), threshold: 0.3, limit: 2 }),
      metadata({ suiteConfig: copyConfig }),
    );
    await db.writeSample(
      copyRun,
      sample('p1', { docIndex: 4, metrics: { exact_match: 1 } }),
      tokensFromMasks(
        [
          [1, 0, 0],
          [0, 1, 0],
        ],
        [[1, 1, 1]],
      ),
    );
    await db.finishRun(copyRun);
    // A run that stored nothing yet.
    await db.ensureRun(identity({ suite: 'empty', suiteConfigHash: 'cfg-empty' }), metadata({ suiteConfig: null }));
    await db.close();
    studyBytes = readFileSync(study);
    studyFolder = readdirSync(dir).sort();
    outRoot = tempDir('flexibench-export-out-');
    out = join(outRoot, 'patterns');
    firstRun = flexibench(['export-patterns', '--db', study, '--out', out]);
  });

  function expectRefused(args: string[], message: string | RegExp, target: string): void {
    const before = readdirSync(outRoot).sort();
    const r = flexibench(['export-patterns', ...args]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.stderr.endsWith('\n')).toBe(true);
    if (typeof message === 'string') expect(r.stderr).toBe(`flexibench: ${message}\n`);
    else expect(r.stderr).toMatch(message);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(outRoot).sort()).toEqual(before);
    expect(readdirSync(outRoot).filter((n) => n.includes('.partial-'))).toEqual([]);
  }

  it('writes data/, schema/ and README.md, and says so on stderr', () => {
    expect(firstRun.stdout).toBe('');
    expect(firstRun.status).toBe(0);
    expect(firstRun.stderr).toMatch(/^export-patterns: wrote .*patterns: 30 token rows and 8 sample rows from 5 runs; data\/tokens\.parquet \(\d+ bytes\)/);
    expect(readdirSync(out).sort()).toEqual(['README.md', 'data', 'schema']);
    expect(readdirSync(join(out, 'data')).sort()).toEqual(['samples.parquet', 'tokens.parquet']);
    expect(readdirSync(join(out, 'schema')).sort()).toEqual(['samples.schema.json', 'tokens.schema.json']);
    for (const name of ['tokens', 'samples']) {
      expect(readFileSync(join(out, 'schema', `${name}.schema.json`), 'utf8')).toBe(
        readFileSync(new URL(`../reports/pattern-schemas/${name}.schema.json`, import.meta.url), 'utf8'),
      );
    }
    expect(readdirSync(outRoot)).toEqual(['patterns']);
  });

  it('leaves the study byte for byte as it was, and nothing beside it', () => {
    expect(readFileSync(study).equals(studyBytes)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(studyFolder);
  });

  it("the Parquet files have the documented columns and types, in the schemas' order", async () => {
    const describeOf = async (table: string): Promise<string[][]> =>
      (await query(`DESCRIBE SELECT * FROM ${parquet(out, table)}`)).map((r) => [String(r.column_name), String(r.column_type)]);
    expect(await describeOf('tokens')).toEqual(TOKEN_COLUMNS);
    expect(await describeOf('samples')).toEqual(SAMPLE_COLUMNS);
    for (const [name, columns] of [
      ['tokens', TOKEN_COLUMNS],
      ['samples', SAMPLE_COLUMNS],
    ] as const) {
      const schema = JSON.parse(readFileSync(join(out, 'schema', `${name}.schema.json`), 'utf8')) as {
        properties: Record<string, unknown>;
        required: string[];
      };
      expect(Object.keys(schema.properties)).toEqual(columns.map((c) => c[0]));
      expect(schema.required).toEqual(columns.map((c) => c[0]));
    }
  });

  it('holds every stored row, as stored, in the documented order', async () => {
    const dbTokens = await queryStudyFile(study, DB_TOKENS);
    const dbSamples = await queryStudyFile(study, DB_SAMPLES);
    expect(dbTokens).toHaveLength(Number((await queryStudyFile<{ n: string }>(study, 'SELECT count(*) AS n FROM tokens'))[0]?.n));
    expect(dbSamples).toHaveLength(Number((await queryStudyFile<{ n: string }>(study, 'SELECT count(*) AS n FROM samples'))[0]?.n));
    expect(await query(`SELECT * FROM ${parquet(out, 'tokens')}`)).toEqual(dbTokens);
    expect(await query(`SELECT * FROM ${parquet(out, 'samples')}`)).toEqual(dbSamples);
    // Several runs of one suite stay apart, and full rows have every layer and no decisions.
    const perRun = await query(
      `SELECT suite, variant, threshold, model_hash, count(DISTINCT run_id) AS runs FROM ${parquet(out, 'samples')} GROUP BY ALL ORDER BY ALL`,
    );
    expect(perRun.map((r) => [r.suite, r.variant, r.threshold, r.model_hash, r.runs])).toEqual([
      ['arith', 'flexidepth', 0.5, 'model-1', '1'],
      ['arith', 'flexidepth', 0.5, 'model-2', '1'],
      ['arith', 'full', 0.5, 'model-1', '1'],
      ['copy', 'flexidepth', 0.3, 'model-1', '1'],
    ]);
    const full = await query(
      `SELECT bool_and(layers_used = layers_total AND len(mask) = 0 AND len(gates) = 0) AS ok FROM ${parquet(out, 'tokens')} WHERE variant = 'full'`,
    );
    expect(full[0]?.ok).toBe(true);
  });

  it('every row validates against its JSON Schema, and broken rows do not', async () => {
    const tokens = schemaValidator('tokens');
    const samples = schemaValidator('samples');
    const tokenRows = await query(`SELECT * FROM ${parquet(out, 'tokens')}`);
    const sampleRows = await query(`SELECT * FROM ${parquet(out, 'samples')}`);
    expect(tokenRows.length).toBeGreaterThan(0);
    for (const row of tokenRows) expect(tokens(row), JSON.stringify(tokens.errors)).toBe(true);
    for (const row of sampleRows) {
      expect(samples(row), JSON.stringify(samples.errors)).toBe(true);
      expect(typeof JSON.parse(row.metrics as string)).toBe('object');
    }
    const token = tokenRows.find((r) => r.variant === 'flexidepth') as Row;
    const broken: Row[] = [
      { ...token, phase: 'decode' },
      { ...token, mask: [1, 0, 1] },
      { ...token, gates: [0.5, 1.5, 0.1] },
      { ...token, layers_used: '4' },
      { ...token, extra: 1 },
      Object.fromEntries(Object.entries(token).filter(([k]) => k !== 'layers_used')),
    ];
    for (const row of broken) expect(tokens(row)).toBe(false);
    const done = sampleRows[0] as Row;
    for (const row of [
      { ...done, status: 'ok' },
      { ...done, metrics: { accuracy: 1 } },
      { ...done, routing_layers: [-1] },
    ])
      expect(samples(row)).toBe(false);
  });

  it('exporting the same study again gives byte-identical files, the card included (also over --force)', () => {
    const again = join(outRoot, 'again');
    expect(flexibench(['export-patterns', '--db', study, '--out', again]).status).toBe(0);
    const forced = flexibench(['export-patterns', '--db', study, '--out', again, '--force']);
    expect(forced.status).toBe(0);
    // The card names neither folder, so it does not depend on them.
    for (const file of ['data/tokens.parquet', 'data/samples.parquet', 'schema/tokens.schema.json', 'schema/samples.schema.json', 'README.md']) {
      expect(readFileSync(join(again, file)).equals(readFileSync(join(out, file))), file).toBe(true);
    }
  });

  it('a folder holding only a previous export is replaced without --force, whole', async () => {
    const twice = join(outRoot, 'twice');
    expect(flexibench(['export-patterns', '--db', study, '--out', twice, '--suites', 'copy']).status).toBe(0);
    expect(await query(`SELECT DISTINCT suite FROM ${parquet(twice, 'samples')}`)).toEqual([{ suite: 'copy' }]);
    // A file deleted by hand leaves it a previous export all the same.
    rmSync(join(twice, 'schema', 'tokens.schema.json'));
    const r = flexibench(['export-patterns', '--db', study, '--out', twice]);
    expect(r.stderr).toMatch(/^export-patterns: wrote /);
    expect(r.status).toBe(0);
    for (const file of ['data/tokens.parquet', 'data/samples.parquet', 'schema/tokens.schema.json', 'schema/samples.schema.json', 'README.md']) {
      expect(readFileSync(join(twice, file)).equals(readFileSync(join(out, file))), file).toBe(true);
    }
    expect(readdirSync(outRoot).filter((n) => n.includes('.partial-') || n.endsWith('.old'))).toEqual([]);
  });

  /** A copy of the first export with `change` made to it, and every file's bytes after. */
  function changedExport(name: string, change: (dir: string) => void): { dir: string; files: () => Map<string, Buffer> } {
    const dir = join(outRoot, name);
    cpSync(out, dir, { recursive: true, verbatimSymlinks: true });
    change(dir);
    const files = (): Map<string, Buffer> =>
      new Map(
        readdirSync(dir, { recursive: true, withFileTypes: true })
          .filter((e) => !e.isDirectory())
          .map((e) => {
            const path = join(e.parentPath, e.name);
            return [path, e.isSymbolicLink() ? Buffer.from(`-> ${readlinkSync(path)}`) : readFileSync(path)];
          }),
      );
    return { dir, files };
  }

  it.each([
    ['a stray file of the user', (d: string) => writeFileSync(join(d, 'notes.md'), 'my notes\n')],
    ['a stray file in data/', (d: string) => writeFileSync(join(d, 'data', 'extra.parquet'), 'mine\n')],
    ['a folder of the user', (d: string) => mkdirSync(join(d, 'figures'))],
    ['a card written by hand', (d: string) => writeFileSync(join(d, 'README.md'), '---\nlicense: mit\n---\n# My dataset\n')],
    [
      'a link where a file of the export belongs',
      (d: string) => {
        rmSync(join(d, 'data', 'tokens.parquet'));
        symlinkSync(join(dir, 'notes.txt'), join(d, 'data', 'tokens.parquet'));
      },
    ],
  ])('a previous export with %s is refused without --force and left as it was', (name, change) => {
    writeFileSync(join(dir, 'notes.txt'), 'not a database\n');
    const { dir: target, files } = changedExport(name.replaceAll(' ', '-'), change);
    const before = files();
    const r = flexibench(['export-patterns', '--db', study, '--out', target]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^flexibench: .*: folder exists and is not empty \(\d+ entries\); choose another export-patterns --out or pass --force to replace it\n$/,
    );
    expect(files()).toEqual(before);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('not a database\n');
    expect(readdirSync(outRoot).filter((n) => n.includes('.partial-'))).toEqual([]);
  });

  it('the card: a Hub YAML header naming both configs, then model, suites, commands, fields', () => {
    const { header, body } = splitCard(readFileSync(join(out, 'README.md'), 'utf8'));
    const configs = header.configs as { config_name: string; data_files: { split: string; path: string }[] }[];
    expect(configs.map((c) => c.config_name)).toEqual(['tokens', 'samples']);
    for (const c of configs) for (const f of c.data_files) expect(existsSync(join(out, f.path))).toBe(true);
    // The fixture's arith suite stored no source, so no single license can be claimed.
    expect(header.license).toBe('other');
    expect(header.license_name).toBe('per-suite-source-licenses');
    expect(header.task_categories).toEqual(['text-generation']);
    expect(header.size_categories).toEqual(['n<1K']);
    expect(header.tags).toContain('flexidepth');

    expect(body).toContain(
      `| copy | \`${stableJsonHash(specContent(loadTaskSpec('copy')))}\` | generator passages over tinyshakespeare, seed 1000101 (https://github.com/karpathy/char-rnn) | public domain text | 1 | 3 |`,
    );
    expect(body).toContain('| arith | `cfg-1` | unknown (the run stored no suite config) |');
    // models/test-6l is no folder of flexibench's repository: the reader fills in theirs.
    expect(body).toContain(
      "flexibench run --model '<folder of the checkpoint with content hash model-1>' --suites copy --variants flexidepth --limit 2 --seed 0 --threshold 0.3",
    );
    // tasks/ has no arith: the run's config came from the user's own YAML, which the card names by its file name, with the stored max_new_tokens.
    expect(body).toContain(
      "flexibench run --model '<folder of the checkpoint with content hash model-1>' --suites arith.yaml --max-new-tokens 8 --variants full --seed 0 --threshold 0.5",
    );
    expect(body).toContain('- `arith.yaml`: suite arith, config hash `cfg-1`\n');
    expect(body).toContain('\nflexibench export-patterns --db results/flexibench.duckdb --out patterns\n');
    expect(body).toContain('produce the token at position p + 1');
    // Every field of both schemas, with the type of the written file and the schema's description.
    for (const [name, columns] of [
      ['tokens', TOKEN_COLUMNS],
      ['samples', SAMPLE_COLUMNS],
    ] as const) {
      const schema = JSON.parse(readFileSync(join(out, 'schema', `${name}.schema.json`), 'utf8')) as { properties: Record<string, { description: string }> };
      for (const [column, type] of columns) {
        const description = (schema.properties[column]?.description ?? '')
          .replaceAll('&', '&amp;')
          .replaceAll('<', '&lt;')
          .replaceAll('>', '&gt;')
          .replaceAll('[', '\\[')
          .replaceAll(']', '\\]')
          .replaceAll('|', '\\|');
        expect(description.length).toBeGreaterThan(0);
        expect(body).toContain(`| \`${column}\` | \`${type}\` | ${description} |`);
      }
    }
  });

  it("the card's DuckDB query runs and gives the producing-position depth the report gives", async () => {
    const { body } = splitCard(readFileSync(join(out, 'README.md'), 'utf8'));
    const sql = /```sql\n([\s\S]*?)```/.exec(body)?.[1] as string;
    const rows = await query(sql.replaceAll("'data/", `'${out}/data/`));
    // store-summary.test.ts works these out by hand: model-1 flexidepth 4.2, full 6, model-2 4.5.
    expect(rows.map((r) => [r.model, r.suite, r.variant, r.threshold, r.layers_per_generated_token])).toEqual([
      ['model-1', 'arith', 'flexidepth', 0.5, 4.2],
      ['model-1', 'arith', 'full', 0.5, 6],
      ['model-1', 'copy', 'flexidepth', 0.3, 4],
      ['model-2', 'arith', 'flexidepth', 0.5, 4.5],
    ]);
  });

  it('--suites exports only those suites', async () => {
    const only = join(outRoot, 'only-copy');
    const r = flexibench(['export-patterns', '--db', study, '--out', only, '--suites', 'copy']);
    expect(r.status).toBe(0);
    expect(await query(`SELECT DISTINCT suite FROM ${parquet(only, 'samples')}`)).toEqual([{ suite: 'copy' }]);
    const n = await queryStudyFile<{ n: string }>(study, `SELECT count(*) AS n FROM tokens JOIN runs USING (run_id) WHERE suite = 'copy'`);
    expect(await query(`SELECT count(*) AS n FROM ${parquet(only, 'tokens')}`)).toEqual(n);
    const { header, body } = splitCard(readFileSync(join(only, 'README.md'), 'utf8'));
    expect(body).toContain('\nflexibench export-patterns --db results/flexibench.duckdb --out patterns --suites copy\n');
    // Only tinyshakespeare's "public domain text": still not a license id the Hub knows.
    expect(header.license).toBe('other');
  });

  it('--help prints the usage line', () => {
    const r = flexibench(['export-patterns', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('Usage: flexibench export-patterns --db <FILE> --out <DIR> [options]');
  });

  it('missing --db or --out, or an empty --suites: one line, exit 1, nothing written', () => {
    const target = join(outRoot, 'x');
    expectRefused(['--out', target], 'export-patterns: missing required option --db', target);
    expectRefused(['--db', study], 'export-patterns: missing required option --out', target);
    expectRefused(['--db', study, '--out', target, '--suites', ','], 'export-patterns: --suites needs at least one suite name', target);
    expectRefused(['--db', study, '--out', target, '--bogus'], /^flexibench: export-patterns: unknown option '--bogus'/, target);
  });

  it('a database that is not a study, or is missing: one line, exit 1, nothing written, file untouched', async () => {
    const target = join(outRoot, 'x');
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'not a database\n');
    expectRefused(['--db', text, '--out', target], `${text}: not a flexibench study database (not a DuckDB file)`, target);
    expect(readFileSync(text, 'utf8')).toBe('not a database\n');

    const foreign = join(dir, 'other.duckdb');
    const instance = await DuckDBInstance.create(foreign);
    const conn = await instance.connect();
    await conn.run('CREATE TABLE orders (id INTEGER)');
    conn.closeSync();
    instance.closeSync();
    const before = readFileSync(foreign);
    expectRefused(
      ['--db', foreign, '--out', target],
      /not a flexibench study database \(a DuckDB database without a schema_version table; it holds orders\)\n$/,
      target,
    );
    expect(readFileSync(foreign).equals(before)).toBe(true);

    const missing = join(dir, 'missing.duckdb');
    expectRefused(['--db', missing, '--out', target], `${missing}: no such study database`, target);
    expect(existsSync(missing)).toBe(false);
  });

  it('an empty study, or no samples after --suites, or an unknown suite: one line, exit 1, nothing written', async () => {
    const target = join(outRoot, 'x');
    const empty = join(dir, 'empty.duckdb');
    await (await StudyDb.open(empty)).close();
    expectRefused(['--db', empty, '--out', target], `${empty}: the study has no runs; nothing to export`, target);
    expectRefused(['--db', study, '--out', target, '--suites', 'empty'], `${study}: no samples in suite empty; nothing to export`, target);
    expectRefused(
      ['--db', study, '--out', target, '--suites', 'copy,nope'],
      "export-patterns: unknown suite 'nope' in --suites (the study has: arith, copy, empty)",
      target,
    );
    expect(readFileSync(study).equals(studyBytes)).toBe(true);
  });

  it('an existing non-empty folder is refused unless --force, which replaces it whole', () => {
    const taken = join(outRoot, 'taken');
    mkdirSync(taken);
    writeFileSync(join(taken, 'mine.txt'), 'keep me\n');
    const r = flexibench(['export-patterns', '--db', study, '--out', taken]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `flexibench: ${taken}: folder exists and is not empty (1 entry); choose another export-patterns --out or pass --force to replace it\n`,
    );
    expect(readdirSync(taken)).toEqual(['mine.txt']);
    expect(readdirSync(outRoot).filter((n) => n.includes('.partial-'))).toEqual([]);

    expect(flexibench(['export-patterns', '--db', study, '--out', taken, '--force']).status).toBe(0);
    expect(readdirSync(taken).sort()).toEqual(['README.md', 'data', 'schema']);
    expect(readdirSync(outRoot).filter((n) => n.includes('.partial-') || n.endsWith('.old'))).toEqual([]);
  });

  it('an unwritable place: one line, exit 1, nothing written', () => {
    const file = join(outRoot, 'a-file');
    writeFileSync(file, 'x');
    const under = join(file, 'patterns');
    expectRefused(['--db', study, '--out', under], `${under}: cannot create it, ${file} is not a folder`, under);
    expectRefused(['--db', study, '--out', file], `${file}: exists and is not a folder (export-patterns --out)`, join(outRoot, 'nothing'));
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  // Root writes through any permission bits, so this case can only be seen as another user.
  it.skipIf(process.getuid?.() === 0)('a folder without write permission: one line, exit 1, nothing written', () => {
    const locked = join(outRoot, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o555);
    try {
      const target = join(locked, 'patterns');
      const r = flexibench(['export-patterns', '--db', study, '--out', target]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`flexibench: ${target}: cannot write in ${locked} (EACCES)\n`);
      expect(readdirSync(locked)).toEqual([]);
    } finally {
      chmodSync(locked, 0o755);
    }
  });
});
