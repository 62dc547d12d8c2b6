/**
 * The command line's own surface, through the real `flexibench` binary: help on every command,
 * --version, one-line errors for options and commands it does not know, number ranges for negative
 * values, `data` without an action, and `tasks` with and without --include-path.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { flexibench } from './cli.ts';
import { DATA_DIR } from './shared-paths.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const env = { FLEXIBENCH_DATA_DIR: DATA_DIR };
const tmp = mkdtempSync(path.join(os.tmpdir(), 'flexibench-cli-help-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Every command and what its help must mention (docs/design.md's command line, plus what each command takes). */
const COMMANDS: Record<string, string[]> = {
  merge: ['--out', '--allow-mixed'],
  run: [
    '--model',
    '--suites',
    '--include-path',
    '--variants',
    '--limit',
    '--db',
    '--workers',
    '--seed',
    '--threshold',
    '--data-dir',
    '--threads',
    '--ep',
    '--max-length',
    '--shard',
    '--log-samples',
  ],
  report: ['--db', '--out', '--json', '--force', '--bootstrap-samples', '--seed'],
  tasks: ['[name]', '--include-path', '--model', '--data-dir'],
  items: ['--suite', '--include-path', '--limit', '--seed', '--data-dir', '--model', '--max-length'],
  score: ['--suite', '--input', '--include-path'],
  'export-patterns': ['--db', '--out', '--suites', '--force'],
  generate: [
    '--model',
    '--variant',
    '--prompt',
    '--bos',
    '--max-new-tokens',
    '--threshold',
    '--temperature',
    '--top-p',
    '--seed',
    '--stop',
    '--json',
    '--ep',
    '--threads',
  ],
  bench: ['--model', '--prompt', '--tokens', '--rounds', '--threshold', '--json', '--ep', '--threads'],
  data: ['list', 'verify', 'pull'],
  'import-llama2c': ['--bin', '--tokenizer', '--out', '--force'],
};

const SUITES = readdirSync(path.join(repoRoot, 'tasks'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -'.yaml'.length))
  .sort();

/** A failure as the command line promises it: exit 1, nothing on stdout, one line on stderr. */
function expectOneLine(args: string[], line: string | RegExp): void {
  const r = flexibench(args, env);
  expect(r.status, r.stderr).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  if (typeof line === 'string') expect(r.stderr).toBe(`${line}\n`);
  else expect(r.stderr.trimEnd()).toMatch(line);
}

describe('help', () => {
  it.each(Object.entries(COMMANDS))('%s --help: exit 0, usage and every option on stdout', (command, mentions) => {
    const r = flexibench([command, '--help'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')[0]).toMatch(new RegExp(`^Usage: flexibench ${command} `));
    for (const m of mentions) expect(r.stdout).toContain(m);
  });

  it('flexibench --help lists every command with its summary; `help run` is `run --help`', () => {
    const r = flexibench(['--help'], env);
    expect(r.status).toBe(0);
    for (const command of Object.keys(COMMANDS)) expect(r.stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
    expect(flexibench(['help', 'run'], env).stdout).toBe(flexibench(['run', '--help'], env).stdout);
  });

  it('help states defaults and ranges from the option table', () => {
    const r = flexibench(['run', '--help'], env);
    expect(r.stdout).toMatch(/--threshold <T> +router threshold[^]*\(default: 0\.5\)/);
    expect(r.stdout).toMatch(/--ep <EP> +ONNX Runtime execution provider \(cpu, cuda\)\s+\(default: cpu\)/);
    expect(flexibench(['items', '--help'], env).stdout).toMatch(/--suite <NAME> +a suite name, or a FILE\.yaml \(required\)/);
  });

  it('data list --help names its options', () => {
    const r = flexibench(['data', 'list', '--help'], env);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--data-dir <DIR>');
    expect(r.stdout).toContain('--dataset <NAME>');
  });

  it('data without an action prints its usage once, on stderr, exit 1', () => {
    const r = flexibench(['data'], env);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.match(/Usage: flexibench data/g)).toHaveLength(1);
    for (const action of ['list', 'verify', 'pull']) expect(r.stderr).toMatch(new RegExp(`^  ${action} `, 'm'));
  });
});

describe('--version', () => {
  it("prints package.json's version", () => {
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    const r = flexibench(['--version'], env);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
    expect(flexibench(['-V'], env).stdout).toBe(`${version}\n`);
  });
});

describe('mistakes: one line, exit 1', () => {
  it.each([
    [['report', '--bogus'], "flexibench: report: unknown option '--bogus'"],
    [['report', '--jsn'], "flexibench: report: unknown option '--jsn' (did you mean --json?)"],
    [['data', 'list', '--bogus'], "flexibench: data list: unknown option '--bogus'"],
    [['frobnicate'], "flexibench: unknown command 'frobnicate'"],
    [['--bogus'], "flexibench: unknown option '--bogus'"],
    [['run', '--limit'], "flexibench: run: option '--limit <N>' argument missing"],
    [['tasks', 'copy', 'extra'], 'flexibench: tasks: too many arguments. Expected 1 argument but got 2.'],
    [['items'], 'flexibench: items: missing required option --suite'],
    [['export-patterns', '--db', 'x.duckdb'], 'flexibench: export-patterns: missing required option --out'],
    [['score', '--suite', 'copy', '--input', ''], 'flexibench: score: missing required option --input'],
    [['run', '--ep', 'tpu'], "flexibench: run: --ep must be one of cpu, cuda, got 'tpu'"],
    [['run', '--variants', 'full,half'], "flexibench: run: --variants has an unknown variant 'half' (known: full, flexidepth, static, random)"],
    [['run', '--limit', '2.5'], "flexibench: run: --limit must be an integer from 1 to 1000000, got '2.5'"],
  ])('%j', (args, line) => expectOneLine(args, line));

  // Negative values reach the range check (not "argument is ambiguous", not taken for an option).
  it.each([
    [['run', '--threshold', '-0.1'], "flexibench: run: --threshold must be a number from 0 to 1, got '-0.1'"],
    [['run', '--limit', '-1'], "flexibench: run: --limit must be an integer from 1 to 1000000, got '-1'"],
    [['report', '--seed', '-3'], "flexibench: report: --seed must be an integer from 0 to 4294967295, got '-3'"],
    [['generate', '--model', 'm', '--bos', '--max-new-tokens', '-2'], /^flexibench: generate: --max-new-tokens must be an integer from 0 to \d+, got '-2'$/],
    [['generate', '--model', 'm', '--bos', '--temperature', '-.5'], "flexibench: generate: --temperature must be a number from 0 to 100, got '-.5'"],
    [['bench', '--model', 'm', '--rounds', '-1e3'], "flexibench: bench: --rounds must be an integer from 1 to 1000, got '-1e3'"],
    [['items', '--suite', 'copy', '--seed', '-7'], "flexibench: items: --seed must be an integer from 0 to 4294967295, got '-7'"],
  ])('%j', (args, line) => expectOneLine(args, line));
});

describe('tasks', () => {
  it('lists every suite in tasks/ with its file and description', () => {
    const r = flexibench(['tasks'], env);
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^NAME +FILE +DESCRIPTION$/);
    expect(rows.slice(1).map((row) => row.split(/\s+/)[0])).toEqual(SUITES);
    for (const suite of SUITES) {
      const { description } = parse(readFileSync(path.join(repoRoot, 'tasks', `${suite}.yaml`), 'utf8')) as { description: string };
      expect(rows).toContainEqual(expect.stringMatching(new RegExp(`^${suite} +tasks/${suite}\\.yaml +`)));
      expect(r.stdout).toContain(description.replace(/\s+/g, ' ').trim());
    }
  });

  it('shows one suite: its config as validated, then the prompt of the item `run --limit 1` evaluates', () => {
    const r = flexibench(['tasks', 'copy'], env);
    expect(r.status, r.stderr).toBe(0);
    const [config, item] = parseAllDocuments(r.stdout).map((d) => d.toJS() as Record<string, unknown>);
    expect(config).toMatchObject(parse(readFileSync(path.join(repoRoot, 'tasks', 'copy.yaml'), 'utf8')) as Record<string, unknown>);
    const items = flexibench(['items', '--suite', 'copy', '--limit', '1'], env);
    const expected = JSON.parse(items.stdout) as { doc_id: string; prompt: string; prompt_ids: number[]; reference: string };
    expect(item).toEqual({
      doc_id: expected.doc_id,
      doc_index: expect.any(Number),
      prompt_tokens: expected.prompt_ids.length,
      truncated_tokens: 0,
      prompt: expected.prompt,
      reference: expected.reference,
    });
    expect(item!['prompt']).toMatch(/^Copy the text: .+\nAnswer:$/);
  });

  it('an unknown suite: one line naming the known ones', () => {
    expectOneLine(['tasks', 'nope'], /^flexibench: unknown suite 'nope' \(known: addition, /);
  });
});

describe('--include-path', () => {
  const copyYaml = readFileSync(path.join(repoRoot, 'tasks', 'copy.yaml'), 'utf8');
  /** A folder holding copy.yaml renamed to each of `names` (a suite's name must be its file's name). */
  const suiteFolder = (names: string[], description: string): string => {
    const dir = mkdtempSync(path.join(tmp, 'tasks-'));
    for (const name of names) {
      writeFileSync(
        path.join(dir, `${name}.yaml`),
        copyYaml.replace(/^name: copy$/m, `name: ${name}`).replace(/^description: .*$/m, `description: ${description}`),
      );
    }
    return dir;
  };
  const custom = suiteFolder(['my-copy'], 'My own copy suite.');

  it('tasks lists a custom suite with the file it comes from, and shows it', () => {
    const list = flexibench(['tasks', '--include-path', custom], env);
    expect(list.status, list.stderr).toBe(0);
    const rows = list.stdout.trimEnd().split('\n').slice(1);
    expect(rows.map((row) => row.split(/\s+/)[0])).toEqual([...SUITES, 'my-copy'].sort());
    expect(rows).toContainEqual(expect.stringMatching(new RegExp(`^my-copy +${path.join(custom, 'my-copy.yaml')} +My own copy suite\\.$`)));
    const show = flexibench(['tasks', 'my-copy', '--include-path', custom], env);
    expect(show.status, show.stderr).toBe(0);
    expect(parseAllDocuments(show.stdout)[0]!.toJS()).toMatchObject({ name: 'my-copy', description: 'My own copy suite.' });
  });

  it('a suite in an include path shadows the one of the same name in tasks/', () => {
    const shadow = suiteFolder(['copy'], 'Shadowed copy.');
    const r = flexibench(['tasks', '--include-path', shadow], env);
    expect(r.stdout).toMatch(new RegExp(`^copy +${path.join(shadow, 'copy.yaml')} +Shadowed copy\\.$`, 'm'));
    expect(r.stdout).not.toContain('tasks/copy.yaml');
  });

  it('tasks lists a refused config as such and exits 1 with one line naming it', () => {
    const broken = suiteFolder([], '');
    writeFileSync(path.join(broken, 'broken.yaml'), copyYaml);
    const r = flexibench(['tasks', '--include-path', broken], env);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^broken +\S+broken\.yaml +invalid: .*broken\.yaml/m);
    expect(r.stderr).toBe('flexibench: tasks: 1 suite config(s) refused: broken (reasons above)\n');
  });

  it('items and score find the custom suite', () => {
    const items = flexibench(['items', '--suite', 'my-copy', '--include-path', custom, '--limit', '2'], env);
    expect(items.status, items.stderr).toBe(0);
    const lines = items.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { suite: string; reference: string });
    expect(lines.map((l) => l.suite)).toEqual(['my-copy', 'my-copy']);
    const input = path.join(tmp, 'score.jsonl');
    writeFileSync(input, `${JSON.stringify({ prediction: lines[0]!.reference, reference: lines[0]!.reference })}\n`);
    const scored = flexibench(['score', '--suite', 'my-copy', '--include-path', custom, '--input', input], env);
    expect(scored.status, scored.stderr).toBe(0);
    expect(JSON.parse(scored.stdout)).toMatchObject({ metrics: { exact_match: 1 } });
    expectOneLine(['items', '--suite', 'my-copy'], /^flexibench: unknown suite 'my-copy'/);
  });

  it('run takes the custom suite, and --log-samples gets one line per stored sample', () => {
    const db = path.join(tmp, 'custom.duckdb');
    const log = path.join(tmp, 'samples.jsonl');
    const r = flexibench(
      ['run', '--include-path', custom, '--suites', 'my-copy', '--limit', '2', '--variants', 'full', '--workers', '1', '--db', db, '--log-samples', log],
      env,
    );
    expect(r.status, r.stderr).toBe(0);
    const samples = readFileSync(log, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { suite: string; variant: string; metrics: Record<string, number> });
    expect(samples.map((s) => [s.suite, s.variant])).toEqual([
      ['my-copy', 'full'],
      ['my-copy', 'full'],
    ]);
    for (const s of samples) expect(Object.keys(s.metrics).sort()).toEqual(['edit_similarity', 'exact_match']);
  });
});
