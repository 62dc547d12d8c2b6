/**
 * Tasks over the user's own file (`source: {kind: file}`): the README's example end to end, the
 * four formats, ids, the sha256 pin and the suite config hash, few-shot examples from a second
 * file, and every refusal as one line naming the file.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { stableJsonHash } from '../src/canonical-json.ts';
import { UserError } from '../src/errors.ts';
import { expandSuite } from '../tasks/suites/expand.ts';
import { loadTaskSpec, type TaskSpec } from '../tasks/suites/spec.ts';
import { specContent } from '../harness/runner/plan.ts';
import type { ItemLine } from '../harness/commands/items.ts';
import { queryStudyFile } from './store-fixtures.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const fixture = path.join(import.meta.dirname, 'fixtures', 'own-task');
const BIN = fileURLToPath(new URL('../bin/flexibench.js', import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), 'fb-own-task-'));
const env = { FLEXIBENCH_CACHE_DIR: path.join(work, 'cache') };

/** The CLI as a user runs it from `cwd`. */
function cli(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Config = Record<string, unknown> & { source: Record<string, unknown>; prompt: Record<string, unknown>; fewshot: Record<string, unknown> };

/** The example's config, renamed to `name`, with `change` applied. */
function capitalsConfig(name: string, change: (c: Config) => void = () => {}): Config {
  const config = parse(readFileSync(path.join(fixture, 'capitals.yaml'), 'utf8')) as Config;
  config.name = name;
  change(config);
  return config;
}

let folders = 0;
/** A fresh folder holding `files` and the task `name`.yaml; its path. */
function taskFolder(name: string, files: Record<string, string | Buffer>, change?: (c: Config) => void): string {
  const dir = path.join(work, `task-${folders++}`);
  mkdirSync(dir);
  for (const [file, content] of Object.entries(files)) writeFileSync(path.join(dir, file), content);
  const task = path.join(dir, `${name}.yaml`);
  writeFileSync(task, stringify(capitalsConfig(name, change)));
  return task;
}

/** A task over `file` (`content` written beside it). */
function taskOver(file: string, content: string | Buffer, change: (c: Config) => void = () => {}): string {
  return taskFolder('mine', { [file]: content }, (c) => {
    c.source = { kind: 'file', path: file };
    change(c);
  });
}

/** The one-line UserError loading `task` throws. */
function refusal(task: string): string {
  try {
    loadTaskSpec(task);
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`${task}: expected a refusal`);
}

const CAPITALS = readFileSync(path.join(fixture, 'capitals.jsonl'), 'utf8');
const sha256 = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');
const configHash = (spec: TaskSpec): string => stableJsonHash(specContent(spec));

/** Runs SQL in a fresh in-memory DuckDB: the tests write their CSV and Parquet fixtures with COPY. */
async function duckdb(sql: string): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(sql);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('the example in tasks/README.md', () => {
  const readme = readFileSync(path.join(repoRoot, 'tasks', 'README.md'), 'utf8');

  it('shows the fixture files as they are', () => {
    expect(readme).toContain(`\`\`\`json\n${CAPITALS}\`\`\``);
    expect(readme).toContain(`\`\`\`yaml\n${readFileSync(path.join(fixture, 'capitals.yaml'), 'utf8')}\`\`\``);
    expect(readme).toContain('flexibench items --suite path/to/capitals.yaml\n');
    expect(readme).toContain('flexibench run --suites path/to/capitals.yaml --limit 5\n');
  });

  it('flexibench items --suite path/to/capitals.yaml prints every row as an item', () => {
    const r = cli(['items', '--suite', path.relative(repoRoot, path.join(fixture, 'capitals.yaml'))], repoRoot);
    expect(r.status, r.stderr).toBe(0);
    const items = r.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ItemLine);
    expect(items.map((i) => i.doc_id)).toEqual(Array.from({ length: 8 }, (_, i) => `capitals-${i}`));
    expect(items[0]).toMatchObject({
      suite: 'capitals',
      prompt: 'Question: What is the capital of France?\nAnswer:',
      reference: 'Paris',
      target: 'Paris',
      fields: { country: 'France', capital: 'Paris' },
      fewshot_ids: [],
    });
    expect(r.stderr).toBe('items: capitals: 8 items\n');
  });

  it('flexibench run --suites path/to/capitals.yaml --limit 5 evaluates 5 of them', async () => {
    const cwd = path.join(work, 'run');
    mkdirSync(cwd);
    const r = cli(['run', '--suites', path.join(fixture, 'capitals.yaml'), '--limit', '5'], cwd);
    expect(r.status, r.stderr).toBe(0);
    const samples = await queryStudyFile<{ doc_id: string; variant: string; hash: string; config: string }>(
      path.join(cwd, 'results', 'flexibench.duckdb'),
      'SELECT s.doc_id, r.variant, r.suite_config_hash AS hash, r.suite_config::VARCHAR AS config FROM samples s JOIN runs r USING (run_id)',
    );
    const spec = loadTaskSpec(path.join(fixture, 'capitals.yaml'));
    const limited = expandSuite(spec, { dataDir: work, limit: 5 }).map((d) => d.docId);
    expect(samples).toHaveLength(10);
    for (const variant of new Set(samples.map((s) => s.variant))) {
      expect(
        samples
          .filter((s) => s.variant === variant)
          .map((s) => s.doc_id)
          .sort(),
      ).toEqual([...limited].sort());
    }
    expect(new Set(samples.map((s) => s.hash))).toEqual(new Set([configHash(spec)]));
    expect(JSON.parse(samples[0]!.config)).toMatchObject({ source: { kind: 'file', path: 'capitals.jsonl', sha256: sha256(CAPITALS) } });
  });
});

describe('a file source', () => {
  it('loads the README example: the path is relative to the YAML, the loaded source carries the sha256', () => {
    const spec = loadTaskSpec(path.join(fixture, 'capitals.yaml'));
    expect(spec.source).toEqual({ kind: 'file', path: 'capitals.jsonl', sha256: sha256(CAPITALS) });
    expect(spec.file).toBe('test/fixtures/own-task/capitals.yaml');
  });

  it('takes an absolute path as well', () => {
    const task = taskFolder('mine', {}, (c) => {
      c.source = { kind: 'file', path: path.join(fixture, 'capitals.jsonl') };
    });
    expect(expandSuite(loadTaskSpec(task), { dataDir: work }).map((d) => d.fields['capital'])).toContain('Oslo');
  });

  it('reads a JSON array of objects; values that are not text are inserted as JSON', () => {
    const rows = [
      { country: 'France', capital: 'Paris', population: 2102650, landlocked: false },
      { country: 'Chad', capital: "N'Djamena", population: null, landlocked: true },
    ];
    const docs = expandSuite(loadTaskSpec(taskOver('capitals.json', JSON.stringify(rows))), { dataDir: work });
    expect(docs.map((d) => [d.docId, d.fields])).toEqual([
      ['capitals-0', { country: 'France', capital: 'Paris', population: '2102650', landlocked: 'false' }],
      ['capitals-1', { country: 'Chad', capital: "N'Djamena", population: 'null', landlocked: 'true' }],
    ]);
  });

  it('reads CSV (written by DuckDB COPY): header names, every cell as text', async () => {
    const dir = path.join(work, 'csv');
    mkdirSync(dir);
    const csv = path.join(dir, 'capitals.csv');
    await duckdb(
      `COPY (SELECT * FROM (VALUES ('France', 'Paris', '007'), ('Japan, East Asia', 'Tokyo', ''), ('Côte d''Ivoire', 'line one\nline two', '3.10')) t(country, capital, code))
       TO '${csv}' (FORMAT csv, HEADER true)`,
    );
    writeFileSync(path.join(dir, 'mine.yaml'), stringify(capitalsConfig('mine', (c) => (c.source = { kind: 'file', path: 'capitals.csv' }))));
    const spec = loadTaskSpec(path.join(dir, 'mine.yaml'));
    expect(spec.source).toMatchObject({ sha256: sha256(readFileSync(csv)) });
    const docs = expandSuite(spec, { dataDir: work });
    expect(docs.map((d) => [d.docId, d.fields])).toEqual([
      ['capitals-0', { country: 'France', capital: 'Paris', code: '007' }],
      ['capitals-1', { country: 'Japan, East Asia', capital: 'Tokyo', code: '' }],
      ['capitals-2', { country: "Côte d'Ivoire", capital: 'line one\nline two', code: '3.10' }],
    ]);
    expect(docs[1]!.prompt).toBe('Question: What is the capital of Japan, East Asia?\nAnswer:');
  });

  it('reads Parquet (written by DuckDB COPY): its columns, non-text values as JSON', async () => {
    const dir = path.join(work, 'parquet');
    mkdirSync(dir);
    await duckdb(
      `COPY (SELECT * FROM (VALUES ('France', 'Paris', 1::BIGINT, 2.5::DOUBLE, ['fr']), ('Peru', 'Lima', 2::BIGINT, NULL, ['es', 'qu'])) t(country, capital, id, score, languages))
       TO '${path.join(dir, 'capitals.parquet')}' (FORMAT parquet)`,
    );
    writeFileSync(
      path.join(dir, 'mine.yaml'),
      stringify(capitalsConfig('mine', (c) => (c.source = { kind: 'file', path: 'capitals.parquet', id_field: 'id' }))),
    );
    const docs = expandSuite(loadTaskSpec(path.join(dir, 'mine.yaml')), { dataDir: work });
    expect(docs.map((d) => [d.docId, d.fields])).toEqual([
      ['1', { country: 'France', capital: 'Paris', id: '1', score: '2.5', languages: '["fr"]' }],
      ['2', { country: 'Peru', capital: 'Lima', id: '2', score: 'null', languages: '["es","qu"]' }],
    ]);
  });

  it('gives stable doc ids: a --limit subset keeps each item its id, index and prompt', () => {
    const spec = loadTaskSpec(path.join(fixture, 'capitals.yaml'));
    const all = expandSuite(spec, { dataDir: work });
    for (const seed of [0, 3]) {
      const some = expandSuite(spec, { dataDir: work, limit: 3, seed });
      expect(some).toHaveLength(3);
      for (const doc of some) expect(all[doc.index]).toEqual(doc);
    }
  });

  it('uses id_field for doc ids, and derive as a dataset does', () => {
    const rows = ['{"code": "FR", "q": "Country: France", "capital": "Paris"}', '{"code": "JP", "q": "Country: Japan", "capital": "Tokyo"}'];
    const task = taskOver('capitals.jsonl', rows.join('\n'), (c) => {
      c.source = { ...c.source, id_field: 'code', derive: { country: { from: 'q', strip_prefix: 'Country: ' } } };
    });
    const docs = expandSuite(loadTaskSpec(task), { dataDir: work });
    expect(docs.map((d) => [d.docId, d.prompt])).toEqual([
      ['FR', 'Question: What is the capital of France?\nAnswer:'],
      ['JP', 'Question: What is the capital of Japan?\nAnswer:'],
    ]);
  });
});

describe('identity: the sha256 pin and the suite config hash', () => {
  it('loads a file whose content matches the pin; the hash is the same pinned or not', () => {
    const pinned = taskOver('capitals.jsonl', CAPITALS, (c) => (c.source = { ...c.source, sha256: sha256(CAPITALS) }));
    const unpinned = taskOver('capitals.jsonl', CAPITALS);
    expect(configHash(loadTaskSpec(pinned))).toBe(configHash(loadTaskSpec(unpinned)));
  });

  it('refuses a file whose content differs from the pin, naming the file and both hashes', () => {
    const pin = sha256('something else\n');
    const task = taskOver('capitals.jsonl', CAPITALS, (c) => (c.source = { ...c.source, sha256: pin }));
    const file = path.join(path.dirname(task), 'capitals.jsonl');
    expect(refusal(task)).toBe(`${task}: /source/sha256 is ${pin}, but ${file} has sha256 ${sha256(CAPITALS)} (the file changed)`);
  });

  it('refuses a pin that is not a sha256', () => {
    const task = taskOver('capitals.jsonl', CAPITALS, (c) => (c.source = { ...c.source, sha256: 'ABC' }));
    expect(refusal(task)).toBe(`${task}: /source/sha256 must match pattern "^[0-9a-f]{64}$"`);
  });

  it('changes the suite config hash when the file content changes, and only then', () => {
    const task = taskOver('capitals.jsonl', CAPITALS);
    const data = path.join(path.dirname(task), 'capitals.jsonl');
    const before = configHash(loadTaskSpec(task));
    expect(configHash(loadTaskSpec(task))).toBe(before);
    writeFileSync(data, CAPITALS.replace('Ottawa', 'Toronto'));
    const changed = loadTaskSpec(task);
    expect(configHash(changed)).not.toBe(before);
    expect(expandSuite(changed, { dataDir: work }).map((d) => d.reference)).toContain('Toronto');
    writeFileSync(data, CAPITALS);
    expect(configHash(loadTaskSpec(task))).toBe(before);
  });
});

describe('few-shot examples from a second file', () => {
  const EXAMPLES = ['{"country": "Italy", "capital": "Rome"}', '{"country": "Spain", "capital": "Madrid"}', '{"country": "Ghana", "capital": "Accra"}'].join(
    '\n',
  );
  const withExamples = (fewshot: Record<string, unknown>) => (c: Config) => {
    c.source = { kind: 'file', path: 'capitals.jsonl' };
    c.fewshot = { count: 2, path: 'examples.jsonl', seed: 1234, sampler: 'lm-eval', ...fewshot };
  };

  it('draws them as from a dataset split, and the examples file counts in the config hash', () => {
    const task = taskFolder('mine', { 'capitals.jsonl': CAPITALS, 'examples.jsonl': EXAMPLES }, withExamples({}));
    const spec = loadTaskSpec(task);
    expect(spec.fewshot).toMatchObject({ path: 'examples.jsonl', sha256: sha256(EXAMPLES) });
    const [doc] = expandSuite(spec, { dataDir: work, limit: 1 });
    expect(doc!.fewshotIds).toHaveLength(2);
    expect(doc!.fewshotIds.every((id) => /^examples-[0-2]$/.test(id))).toBe(true);
    expect(doc!.prompt).toMatch(/^Question: What is the capital of \w+\?\nAnswer: \w+\n\nQuestion: What is the capital of \w+\?\nAnswer: \w+\n\nQuestion: /);

    const before = configHash(spec);
    writeFileSync(path.join(path.dirname(task), 'examples.jsonl'), `${EXAMPLES}\n{"country": "Laos", "capital": "Vientiane"}`);
    expect(configHash(loadTaskSpec(task))).not.toBe(before);
  });

  it('refuses a split, a missing path, the items file itself, and more examples than the file has', () => {
    const files = { 'capitals.jsonl': CAPITALS, 'examples.jsonl': EXAMPLES, 'copy.jsonl': CAPITALS };
    let task = taskFolder('mine', files, withExamples({ split: 'train', path: undefined }));
    expect(refusal(task)).toBe(`${task}: /fewshot/split is for a dataset source; a file has no splits: give /fewshot/path, a file of examples`);
    task = taskFolder('mine', files, withExamples({ path: undefined }));
    expect(refusal(task)).toBe(`${task}: /fewshot/path is missing (the file the examples come from)`);
    task = taskFolder('mine', files, withExamples({ path: 'copy.jsonl' }));
    expect(refusal(task)).toBe(
      `${task}: /fewshot/path ${path.join(path.dirname(task), 'copy.jsonl')} has the content of /source/path: examples would be the items`,
    );
    task = taskFolder('mine', files, withExamples({ count: 4 }));
    expect(refusal(task)).toBe(`${task}: /fewshot/count is 4, more than the 3 examples in the fewshot file ${path.join(path.dirname(task), 'examples.jsonl')}`);
  });

  it('reads the examples file even with count 0, so that a count set later (run --num-fewshot) draws from it', () => {
    const task = taskFolder('mine', { 'capitals.jsonl': CAPITALS, 'examples.jsonl': EXAMPLES }, withExamples({ count: 0 }));
    const spec = loadTaskSpec(task);
    expect(spec.fewshot).toMatchObject({ count: 0, sha256: sha256(EXAMPLES) });
    expect(expandSuite(spec, { dataDir: work, limit: 1 })[0]!.fewshotIds).toEqual([]);
    const [doc] = expandSuite({ ...spec, fewshot: { ...spec.fewshot, count: 3 } }, { dataDir: work, limit: 1 });
    expect([...doc!.fewshotIds].sort()).toEqual(['examples-0', 'examples-1', 'examples-2']);
    expect(() => expandSuite({ ...spec, fewshot: { ...spec.fewshot, count: 4 } }, { dataDir: work })).toThrow(
      new UserError(`${spec.file}: /fewshot/count is 4, more than the 3 examples in the fewshot file examples.jsonl`),
    );
  });

  it('refuses examples without the fields the template and target use', () => {
    const task = taskFolder('mine', { 'capitals.jsonl': CAPITALS, 'examples.jsonl': '{"country": "Italy", "city": "Rome"}\n' }, withExamples({ count: 1 }));
    expect(refusal(task)).toBe(
      `${task}: /prompt/target uses {capital}, not a field of ${path.join(path.dirname(task), 'examples.jsonl')} (fields: country, city)`,
    );
  });
});

describe('refusals: one line naming the file', () => {
  /** The refusal for a task over `file` holding `content`, with the data file's full path. */
  function refusalOver(file: string, content: string | Buffer, change?: (c: Config) => void): { message: string; task: string; data: string } {
    const task = taskOver(file, content, change);
    return { message: refusal(task), task, data: path.join(path.dirname(task), file) };
  }

  it('a missing file', () => {
    const task = taskFolder('mine', {}, (c) => (c.source = { kind: 'file', path: 'capitals.jsonl' }));
    expect(refusal(task)).toBe(`${path.join(path.dirname(task), 'capitals.jsonl')}: no such file (${task} /source/path)`);
  });

  it('a file that is not a regular file', () => {
    const task = taskFolder('mine', {}, (c) => (c.source = { kind: 'file', path: 'capitals.jsonl' }));
    const data = path.join(path.dirname(task), 'capitals.jsonl');
    mkdirSync(data);
    expect(refusal(task)).toBe(`${data}: the dataset file must be a regular file, not a folder (${task} /source/path)`);
  });

  it('an unknown extension, or none', () => {
    let r = refusalOver('capitals.txt', CAPITALS);
    expect(r.message).toBe(`${r.data}: has the unknown extension '.txt'; the format comes from it: .jsonl, .json, .csv, .parquet (${r.task} /source/path)`);
    r = refusalOver('capitals', CAPITALS);
    expect(r.message).toBe(`${r.data}: has no extension; the format comes from it: .jsonl, .json, .csv, .parquet (${r.task} /source/path)`);
  });

  it('a JSONL line that is not an object, or not JSON, by its line', () => {
    let r = refusalOver('capitals.jsonl', `${CAPITALS}\n["Laos", "Vientiane"]\n`);
    expect(r.message).toBe(`${r.data}: line 10: expected a JSON object, got an array (${r.task} /source/path)`);
    r = refusalOver('capitals.jsonl', '{"country": "France", "capital": "Paris"}\n{"country": "Japan", capital: "Tokyo"}\n');
    expect(r.message).toMatch(new RegExp(`^${r.data}: line 2: not valid JSON \\(.+\\) \\(${r.task} /source/path\\)$`));
  });

  it('bytes that are not UTF-8, by their line', () => {
    const r = refusalOver(
      'capitals.jsonl',
      Buffer.concat([Buffer.from(CAPITALS), Buffer.from('{"country": "'), Buffer.from([0xff]), Buffer.from('", "capital": "x"}\n')]),
    );
    expect(r.message).toBe(`${r.data}: line 9: not valid UTF-8 (${r.task} /source/path)`);
  });

  it('a JSON file that is not an array of objects', () => {
    let r = refusalOver('capitals.json', '{"country": "France"}');
    expect(r.message).toBe(`${r.data}: expected a JSON array of objects, got an object (${r.task} /source/path)`);
    r = refusalOver('capitals.json', '[{"country": "France", "capital": "Paris"}, "Japan"]');
    expect(r.message).toBe(`${r.data}: item 2: expected a JSON object, got a string (${r.task} /source/path)`);
  });

  it('a file without rows', () => {
    const r = refusalOver('capitals.jsonl', '\n\n');
    expect(r.message).toBe(`${r.data}: has no items (${r.task} /source/path)`);
    const csv = refusalOver('capitals.csv', 'country,capital\n');
    expect(csv.message).toBe(`${csv.data}: has no items (${csv.task} /source/path)`);
  });

  it('a CSV row with more or fewer fields than the header, by its line', () => {
    let r = refusalOver('capitals.csv', 'country,capital\nFrance,Paris\nJapan,Tokyo,Honshu\n');
    expect(r.message).toBe(`${r.data}: line 3: too many columns (Expected Number of Columns: 2 Found: 3) (${r.task} /source/path)`);
    r = refusalOver('capitals.csv', 'country,capital\nFrance,Paris\nJapan\nPeru,Lima\n');
    expect(r.message).toBe(`${r.data}: line 3: missing columns (Expected Number of Columns: 2 Found: 1) (${r.task} /source/path)`);
  });

  it('a file that is not Parquet', () => {
    const r = refusalOver('capitals.parquet', CAPITALS);
    expect(r.message).toMatch(new RegExp(`^${r.data}: not a readable Parquet file: .+ \\(${r.task} /source/path\\)$`));
    expect(r.message).not.toContain(tmpdir() + path.sep + 'flexibench-items-');
  });

  it('a template field that no row has, naming the field and the file', () => {
    const r = refusalOver('capitals.jsonl', CAPITALS, (c) => (c.prompt = { ...c.prompt, template: 'What is the capital city of {nation}?' }));
    expect(r.message).toBe(`${r.task}: /prompt/template uses {nation}, not a field of ${r.data} (fields: country, capital)`);
  });

  it('a template field that some row lacks, naming its line', () => {
    const r = refusalOver('capitals.jsonl', `${CAPITALS}{"country": "Laos"}\n`);
    expect(r.message).toBe(`${r.data}: line 9 has no field 'capital' (${r.task} /prompt/target uses it)`);
  });

  it('an id field that repeats, or that the rows lack', () => {
    let r = refusalOver('capitals.jsonl', `${CAPITALS}{"country": "France", "capital": "Paris"}\n`, (c) => (c.source = { ...c.source, id_field: 'country' }));
    expect(r.message).toBe(`${r.data}: line 9: id 'France' repeats line 1's (${r.task} /source/id_field)`);
    r = refusalOver('capitals.jsonl', CAPITALS, (c) => (c.source = { ...c.source, id_field: 'id' }));
    expect(r.message).toBe(`${r.task}: /source/id_field 'id' is not a field of ${r.data} (fields: country, capital)`);
  });

  it('a derive prefix a row does not start with, naming its line', () => {
    const r = refusalOver('capitals.jsonl', CAPITALS, (c) => (c.source = { ...c.source, derive: { name: { from: 'country', strip_prefix: 'F' } } }));
    expect(r.message).toBe(`${r.data}: line 2: 'country' does not start with 'F' (${r.task} /source/derive/name)`);
  });

  it('on the command line: exit status 1, one line, nothing run', () => {
    const task = taskOver('capitals.jsonl', `${CAPITALS}[1]\n`);
    const cwd = path.join(work, 'refused-run');
    mkdirSync(cwd);
    const r = cli(['run', '--suites', task, '--limit', '5'], cwd);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `flexibench: ${path.join(path.dirname(task), 'capitals.jsonl')}: line 9: expected a JSON object, got an array (${task} /source/path)\n`,
    );
    expect(readdirSync(cwd)).toEqual([]);
  });
});
