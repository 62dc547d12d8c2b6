/**
 * Every file a user points flexibench at is checked before it is read (issue 26): a model's
 * config.json or tokenizer.json, a task YAML and a dataset file that are /dev/zero, a FIFO or over
 * their size limit are refused in one line naming the file, within bounded memory and without a
 * hang; a YAML alias bomb likewise. `score` streams its input, so /dev/zero or an endless line is
 * refused after one line's limit, and JSON nested 10k deep or with a raw NUL is one line naming the
 * input line. docs/usage.md's "Limits on input" lists every limit, checked here so it cannot drift.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, MAX_LINE_BYTES, jsonDepth } from '../harness/commands/score.ts';
import { boundedLines, withinInputLimit } from '../harness/score-input.ts';
import { MAX_YAML_ALIAS_COUNT, parseYaml } from '../src/config-validation.ts';
import { UserError } from '../src/errors.ts';
import { FILE_KINDS, type FileKind } from '../src/user-file.ts';
import { flexibenchMeasured, type MeasuredCliResult } from './cli.ts';
import { DATA_DIR } from './shared-paths.ts';
import { tempDir } from './store-fixtures.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const REFERENCE_MODEL = path.join(REPO, 'models', 'flexidepth-ref');
const work = tempDir('fb-hostile-files-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

const env = { FLEXIBENCH_CACHE_DIR: path.join(work, 'cache') };
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A refusal as the issue defines it: exit 1, one line naming `file` and saying `why`, bounded memory, no hang. */
function expectRefused(r: MeasuredCliResult, file: string, why: RegExp): void {
  expect(r.timedOut, r.stderr).toBe(false);
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr).toMatch(/^flexibench: [^\n]*\n$/);
  expect(r.stderr).toMatch(new RegExp(`^flexibench: ${escape(file)}[:\\s]`));
  expect(r.stderr).toMatch(why);
  expect(r.peakRssBytes).toBeLessThanOrEqual(1e9);
}

/** Names, sizes and sha256 of the regular files in `dir` (links and sparse giants by size only): what a refusal must leave unchanged. */
function fingerprint(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((name) => {
      const stat = lstatSync(path.join(dir, name));
      const hash =
        stat.isFile() && stat.size <= 1024 * 1024
          ? createHash('sha256')
              .update(readFileSync(path.join(dir, name)))
              .digest('hex')
          : '';
      return `${name} ${stat.size} ${hash}`;
    });
}

/** Puts the hostile thing at `file`: a link to /dev/zero, a FIFO, or a sparse file one byte over `kind`'s limit. */
function plant(file: string, hostile: Hostile, kind: FileKind): void {
  rmSync(file, { force: true });
  if (hostile === 'zero') symlinkSync('/dev/zero', file);
  else if (hostile === 'fifo') execFileSync('mkfifo', [file]);
  else {
    writeFileSync(file, '');
    // Sparse: nothing is written, and reading it would still cost the whole size.
    truncateSync(file, kind.maxBytes + 1);
  }
}

type Hostile = 'zero' | 'fifo' | 'oversized';
/** The refusal's reason, at the end of its line or followed by `then` (a hint). */
const WHY: Record<Hostile, (kind: FileKind, then?: string) => RegExp> = {
  zero: (kind, then = '') => new RegExp(`the ${escape(kind.what)} must be a regular file, not a device${escape(then)}$`, 'm'),
  fifo: (kind, then = '') => new RegExp(`the ${escape(kind.what)} must be a regular file, not a pipe${escape(then)}$`, 'm'),
  oversized: (kind, then = '') => new RegExp(`the ${escape(kind.what)} is .* more than the .* allowed${escape(then)}$`, 'm'),
};
const HOSTILE: Hostile[] = ['zero', 'fifo', 'oversized'];

describe('a model folder whose config.json or tokenizer.json is not a regular file within its limit', () => {
  const cases = HOSTILE.flatMap((hostile) => [
    ['config.json', hostile, FILE_KINDS.modelConfig] as const,
    ['tokenizer.json', hostile, FILE_KINDS.tokenizer] as const,
  ]);
  it.each(cases)('%s as %s: refused in one line naming it', (name, hostile, kind) => {
    const model = path.join(work, `model-${name}-${hostile}`);
    mkdirSync(model);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(path.join(REFERENCE_MODEL, f), path.join(model, f));
    plant(path.join(model, name), hostile, kind);
    const before = fingerprint(model);
    // items reads the tokenizer, then config.json, and builds no model: the cheapest reader of both.
    const r = flexibenchMeasured(['items', '--suite', 'addition', '--limit', '1', '--model', model], { env });
    expectRefused(r, path.join(model, name), WHY[hostile](kind));
    expect(fingerprint(model)).toEqual(before);
  });
});

/** The billion laughs: nine levels of nine aliases each, 9^9 strings if expanded. */
const ALIAS_BOMB = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  .concat('bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`))
  .join('\n');

describe('a task YAML that is not a regular file within its limit, or an alias bomb', () => {
  const suites = path.join(work, 'suites');
  mkdirSync(suites);

  it.each(HOSTILE)('as %s: refused in one line naming it', (hostile) => {
    const file = path.join(suites, `${hostile}.yaml`);
    plant(file, hostile, FILE_KINDS.taskConfig);
    const r = flexibenchMeasured(['score', '--suite', file, '--input', '-'], { env });
    expectRefused(r, file, WHY[hostile](FILE_KINDS.taskConfig));
  });

  it('an alias bomb: refused in one line naming it, no stack trace', () => {
    const file = path.join(suites, 'bomb.yaml');
    writeFileSync(file, `${ALIAS_BOMB}\n`);
    const before = fingerprint(suites);
    const r = flexibenchMeasured(['score', '--suite', file, '--input', '-'], { env });
    expectRefused(r, file, new RegExp(`: YAML aliases expand past the limit of ${MAX_YAML_ALIAS_COUNT} \\(an alias bomb\\?\\)`));
    expect(fingerprint(suites)).toEqual(before);
  });

  it('parseYaml refuses the alias bomb as a UserError, and still expands a few aliases', () => {
    expect(() => parseYaml(ALIAS_BOMB, 'bomb.yaml')).toThrow(UserError);
    expect(() => parseYaml(ALIAS_BOMB, 'bomb.yaml')).toThrow(/^bomb\.yaml: YAML aliases expand past the limit/);
    expect(parseYaml('a: &a [1, 2]\nb: *a\nc: *a\n', 'ok.yaml')).toEqual({ a: [1, 2], b: [1, 2], c: [1, 2] });
    expect(() => parseYaml('b: *nowhere\n', 'dangling.yaml')).toThrow(/^dangling\.yaml(:\d+)?: YAML /);
  });
});

describe('a dataset file that is not a regular file within its limit', () => {
  it.each(HOSTILE)('gsm8k/test.jsonl as %s: refused before it is hashed, in one line naming it', (hostile) => {
    const dataDir = path.join(work, `data-${hostile}`);
    mkdirSync(path.join(dataDir, 'gsm8k'), { recursive: true });
    symlinkSync(path.join(DATA_DIR, 'gsm8k', 'train.jsonl'), path.join(dataDir, 'gsm8k', 'train.jsonl'));
    const file = path.join(dataDir, 'gsm8k', 'test.jsonl');
    plant(file, hostile, FILE_KINDS.datasetFile);
    const before = fingerprint(dataDir);
    const r = flexibenchMeasured(['items', '--suite', 'gsm8k', '--limit', '1', '--data-dir', dataDir], { env });
    expectRefused(r, file, WHY[hostile](FILE_KINDS.datasetFile, " — run 'flexibench data pull' or set FLEXIBENCH_DATA_DIR to a mirror"));
    expect(fingerprint(dataDir)).toEqual(before);
  });
});

describe('score streams its input', () => {
  const good = '{"prediction":"a","reference":"a"}';
  const deep = path.join(work, 'deep.jsonl');
  writeFileSync(deep, `${good}\n{"prediction":"a","reference":"b","x":${'['.repeat(10_000)}${']'.repeat(10_000)}}\n`);
  const nul = path.join(work, 'nul.jsonl');
  writeFileSync(nul, `${good}\n{"prediction":"a\0","reference":"b"}\n`);
  const fifo = path.join(work, 'input.fifo');
  execFileSync('mkfifo', [fifo]);

  it.each([
    ['/dev/zero as --input', ['--input', '/dev/zero'], '', '/dev/zero', /: the score input must be a regular file, not a device$/m],
    ['a FIFO as --input (pipes go through --input -)', ['--input', fifo], '', fifo, /: the score input must be a regular file, not a pipe$/m],
    [
      'stdin: an endless line of NULs',
      ['--input', '-'],
      '\0'.repeat(16 * 1024 * 1024),
      'stdin:1',
      new RegExp(`: line is longer than the ${MAX_LINE_BYTES}-byte limit of score`),
    ],
    ['a line nested 10k deep', ['--input', deep], '', `${deep}:2`, new RegExp(`: JSON nested more than ${MAX_JSON_DEPTH} levels deep$`, 'm')],
    ['a raw NUL in a line', ['--input', nul], '', `${nul}:2`, /: not valid JSON \(Bad control character in string literal in JSON at position 16\)$/m],
  ])('%s: refused in one line naming it, nothing printed', (_, args, input, where, why) => {
    const r = flexibenchMeasured(['score', '--suite', 'copy', ...args], { env, input });
    expectRefused(r, where, why);
    expect(r.stdout).toBe('');
  });
});

/** Chunks of `bytes` as a stream yields them. */
async function* chunksOf(...bytes: (string | Buffer)[]): AsyncGenerator<Buffer> {
  for (const b of bytes) yield Buffer.from(b);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe("score's line reader", () => {
  it('splits on newlines across chunk boundaries, numbering from 1, the last line included', async () => {
    const lines = await collect(boundedLines(chunksOf('ab', 'c\nde\n', '\nf'), 10));
    expect(lines.map((l) => [l.number, l.bytes.toString()])).toEqual([
      [1, 'abc'],
      [2, 'de'],
      [3, ''],
      [4, 'f'],
    ]);
  });

  it('a line over the limit is cut to one byte past it and ends the reading', async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) {
        pulled++;
        yield Buffer.alloc(1000);
      }
    }
    const lines = await collect(boundedLines(endless(), 2500));
    expect(lines).toHaveLength(1);
    expect(lines[0]?.bytes.length).toBe(2501);
    expect(pulled).toBe(3);
  });

  it('a line exactly at the limit is whole', async () => {
    const lines = await collect(boundedLines(chunksOf('x'.repeat(5), '\n'), 5));
    expect(lines.map((l) => l.bytes.toString())).toEqual(['xxxxx', '']);
  });

  it('the whole input is held to the score input limit as it streams', async () => {
    const MiB = Buffer.alloc(1024 * 1024);
    const chunks = Array<Buffer>(FILE_KINDS.scoreInput.maxBytes / MiB.length + 1).fill(MiB);
    await expect(collect(withinInputLimit(chunksOf(...chunks), 'stdin'))).rejects.toThrow(/^stdin: the score input is more than the 64 MiB allowed/);
    await expect(collect(withinInputLimit(chunksOf(...chunks.slice(1)), 'stdin'))).resolves.toHaveLength(chunks.length - 1);
  });

  it('jsonDepth counts nesting outside strings, escapes included', () => {
    expect(jsonDepth('{"a":"b"}')).toBe(1);
    expect(jsonDepth('{"a":[{"b":[]}]}')).toBe(4);
    expect(jsonDepth('{"a":"[[[{{{\\"[[["}')).toBe(1);
    expect(jsonDepth('{"a":"\\\\","b":[[]]}')).toBe(3);
    expect(jsonDepth('1')).toBe(0);
    expect(jsonDepth(`${'['.repeat(10_000)}${']'.repeat(10_000)}`)).toBe(10_000);
  });
});

describe('docs/usage.md "Limits on input"', () => {
  const readme = readFileSync(path.join(REPO, 'docs', 'usage.md'), 'utf8');
  const start = readme.indexOf('\n## Limits on input\n');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));

  it.each(Object.entries(FILE_KINDS))('lists %s with its exact limit', (_, kind) => {
    expect(start).toBeGreaterThan(-1);
    const row = section.split('\n').find((line) => line.startsWith(`| ${kind.what} |`));
    expect(row, `no row for "${kind.what}" in docs/usage.md's "Limits on input"`).toBeDefined();
    expect(row).toContain(`${kind.maxBytes.toLocaleString('en-US')} bytes`);
  });

  it("states score's line and nesting limits and the YAML alias limit", () => {
    expect(section).toContain(`${MAX_LINE_BYTES.toLocaleString('en-US')} bytes`);
    expect(section).toContain(`nested at most ${MAX_JSON_DEPTH} levels deep`);
    expect(section).toContain(`\`maxAliasCount\` of ${MAX_YAML_ALIAS_COUNT}`);
  });
});
