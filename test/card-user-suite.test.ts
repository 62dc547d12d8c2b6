/**
 * The dataset card of a study that ran the user's own suite YAMLs (`run --suites path/to/mine.yaml`,
 * or a name found through --include-path): a clone of flexibench does not have them, so the card's
 * command names each by its file name (never the producing machine's path) and says it must be
 * published with the dataset, its data file pinned by sha256; a repository suite run with
 * --max-new-tokens keeps its name and carries the flag. The commands, run as the card says from a
 * folder holding the published YAMLs, make the very same runs.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { PACKAGE_ROOT, packagePath } from '../src/package-root.ts';
import { queryStudyFile } from './store-fixtures.ts';

const BIN = fileURLToPath(new URL('../bin/flexibench.js', import.meta.url));
const fixture = path.join(import.meta.dirname, 'fixtures', 'own-task');
const work = mkdtempSync(path.join(tmpdir(), 'fb-card-user-suite-'));
const env = { FLEXIBENCH_CACHE_DIR: path.join(work, 'cache') };

/** The CLI as a user runs it from `cwd`. */
function cli(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function folder(...parts: string[]): string {
  const dir = path.join(work, ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The README's capitals example in `dir`, renamed to `name` (the file's name must be the suite's). */
function ownSuite(dir: string, name: string): string {
  const config = parse(readFileSync(path.join(fixture, 'capitals.yaml'), 'utf8')) as Record<string, unknown>;
  writeFileSync(path.join(dir, `${name}.yaml`), stringify({ ...config, name }));
  copyFileSync(path.join(fixture, 'capitals.jsonl'), path.join(dir, 'capitals.jsonl'));
  return path.join(dir, `${name}.yaml`);
}

const runIds = async (db: string): Promise<string[]> =>
  (await queryStudyFile<{ run_id: string }>(db, 'SELECT run_id FROM runs ORDER BY run_id')).map((r) => r.run_id);

describe("the card of a study over the user's own suite YAMLs", () => {
  const producer = folder('producer');
  const study = path.join(producer, 'study.duckdb');
  let card: string;
  let commands: string[];

  beforeAll(() => {
    const mine = ownSuite(folder('home', 'me', 'suites'), 'capitals');
    const included = folder('home', 'me', 'more-suites');
    ownSuite(included, 'towns');
    const runs = [
      ['--suites', mine, '--limit', '3'],
      ['--include-path', included, '--suites', 'towns', '--limit', '2'],
      ['--suites', 'addition', '--max-new-tokens', '4', '--limit', '2'],
    ];
    for (const args of runs) {
      const r = cli(['run', ...args, '--variants', 'full', '--workers', '1', '--db', study], producer);
      expect(r.status, r.stderr).toBe(0);
    }
    const r = cli(['export-patterns', '--db', study, '--out', path.join(producer, 'patterns')], producer);
    expect(r.status, r.stderr).toBe(0);
    card = readFileSync(path.join(producer, 'patterns', 'README.md'), 'utf8');
    commands = card.split('\n').filter((line) => line.startsWith('flexibench run '));
  }, 300_000);

  it("names the user's YAML by its file name, with the run's few-shot count and max new tokens", () => {
    expect(commands).toContain(
      'flexibench run --model models/flexidepth-ref --suites capitals.yaml --num-fewshot 0 --max-new-tokens 8 --variants full --limit 3 --seed 0 --threshold 0.5',
    );
    // A name found through --include-path is the user's own YAML as well.
    expect(commands).toContain(
      'flexibench run --model models/flexidepth-ref --suites towns.yaml --num-fewshot 0 --max-new-tokens 8 --variants full --limit 2 --seed 0 --threshold 0.5',
    );
  });

  it("keeps a repository suite's name, with the override the run was given", () => {
    expect(commands).toContain(
      'flexibench run --model models/flexidepth-ref --suites addition --max-new-tokens 4 --variants full --limit 2 --seed 0 --threshold 0.5',
    );
  });

  it("holds no absolute path: not the YAMLs' folders, the study's, the repository or the home folder", () => {
    for (const place of [work, PACKAGE_ROOT, ...(homedir().length > 1 ? [homedir()] : [])]) expect(card.includes(place), place).toBe(false);
    expect(card).not.toContain('/home/me');
    for (const command of commands) expect(command.split(' ').filter((word) => path.isAbsolute(word))).toEqual([]);
  });

  it('says, next to the commands, that the YAMLs must be published with their data file, pinned by hash', () => {
    const sha = createHash('sha256')
      .update(readFileSync(path.join(fixture, 'capitals.jsonl')))
      .digest('hex');
    const after = card.slice(card.indexOf(commands.at(-1)!));
    expect(after).toContain('must be published alongside this dataset');
    expect(after).toMatch(
      new RegExp(`\\n- \`capitals\\.yaml\`: suite capitals, config hash \`[0-9a-f]{64}\`; items from \`capitals\\.jsonl\` \\(sha256 \`${sha}\`\\)\\n`),
    );
    expect(after).toMatch(/\n- `towns\.yaml`: suite towns, config hash `[0-9a-f]{64}`; items from `capitals\.jsonl`/);
    expect(card.indexOf('must be published alongside')).toBeLessThan(card.indexOf('This dataset was then written from the study by'));
  });

  it('run as the card says, from a clone holding the published YAMLs, the commands make the same runs', async () => {
    const reader = folder('reader');
    // The clone's root as the reader has it: the repository's models, and the YAMLs under the card's names.
    symlinkSync(packagePath('models'), path.join(reader, 'models'));
    ownSuite(reader, 'capitals');
    ownSuite(reader, 'towns');
    for (const command of commands) {
      expect(command).not.toMatch(/['"$\\]/);
      // The words after `flexibench run`; one worker changes no part of a run's identity.
      const r = cli(['run', ...command.split(' ').slice(2), '--workers', '1'], reader);
      expect(r.status, `${command}\n${r.stderr}`).toBe(0);
    }
    expect(await runIds(path.join(reader, 'results', 'flexibench.duckdb'))).toEqual(await runIds(study));
  }, 300_000);
});
