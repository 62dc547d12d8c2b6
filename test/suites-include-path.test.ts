/**
 * --include-path: folders of custom task YAMLs beside tasks/. A suite is named by its file; an
 * include path shadows tasks/ (and a later include path an earlier one); a bad folder is one line.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { UserError } from '../src/errors.ts';
import { listSuites, loadTaskSpec, suiteSource } from '../tasks/suites/spec.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'flexibench-include-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of a tasks/ config under another name and description, written to dir/<name>.yaml. */
function writeSuite(dir: string, name: string, from: string, description: string): string {
  mkdirSync(dir, { recursive: true });
  const config = parse(readFileSync(path.join(repoRoot, 'tasks', `${from}.yaml`), 'utf8')) as Record<string, unknown>;
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, stringify({ ...config, name, description }));
  return file;
}

function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error('expected a UserError');
}

const mine = path.join(tmp, 'mine');
const myAddition = writeSuite(mine, 'my-addition', 'addition', 'Addition, my way.');
const myGsm8k = writeSuite(mine, 'gsm8k', 'gsm8k', 'GSM8K, shadowed.');
writeFileSync(path.join(mine, 'README.md'), 'not a suite');
const later = path.join(tmp, 'later');
const laterGsm8k = writeSuite(later, 'gsm8k', 'gsm8k', 'GSM8K, shadowed twice.');

describe('suites from an include path', () => {
  it('lists them with the suites of tasks/, by file name, ignoring other files', () => {
    const suites = listSuites([mine]);
    expect(suites).toEqual([...listSuites(), 'my-addition'].sort());
    expect(suites.filter((s) => s === 'gsm8k')).toHaveLength(1);
  });

  it('loads one by name, showing where it came from', () => {
    const spec = loadTaskSpec('my-addition', [mine]);
    expect(spec.name).toBe('my-addition');
    expect(spec.description).toBe('Addition, my way.');
    expect(spec.file).toBe(myAddition);
    expect(suiteSource('my-addition', [mine])).toBe(myAddition);
  });

  it('shadows tasks/ by name; a later include path shadows an earlier one', () => {
    expect(loadTaskSpec('gsm8k', [mine]).description).toBe('GSM8K, shadowed.');
    expect(suiteSource('gsm8k', [mine])).toBe(myGsm8k);
    expect(suiteSource('gsm8k', [mine, later])).toBe(laterGsm8k);
    expect(loadTaskSpec('gsm8k', [later, mine]).description).toBe('GSM8K, shadowed.');
    expect(suiteSource('gsm8k')).toBe('tasks/gsm8k.yaml');
    expect(loadTaskSpec('gsm8k').file).toBe('tasks/gsm8k.yaml');
  });

  it('is unknown without its include path, and the known list names include-path suites', () => {
    expect(userError(() => loadTaskSpec('my-addition'))).toMatch(/^unknown suite 'my-addition' \(known: addition, .*xsum\)$/);
    expect(userError(() => loadTaskSpec('nope', [mine]))).toMatch(/^unknown suite 'nope' \(known: .*, my-addition, .*\)$/);
    expect(userError(() => suiteSource('nope', [mine]))).toMatch(/my-addition/);
  });

  it('must be named as its file, as in tasks/', () => {
    const dir = path.join(tmp, 'misnamed');
    const file = writeSuite(dir, 'renamed', 'xsum', 'XSum');
    writeFileSync(file, readFileSync(file, 'utf8').replace('name: renamed', 'name: xsum'));
    expect(userError(() => loadTaskSpec('renamed', [dir]))).toBe(`${file}: /name must be 'renamed' (the file name), got 'xsum'`);
  });
});

describe('a bad include path is one line naming it', () => {
  it('a folder that does not exist', () => {
    const missing = path.join(tmp, 'missing');
    expect(userError(() => listSuites([missing]))).toBe(`include path ${missing}: no such folder`);
    expect(userError(() => loadTaskSpec('gsm8k', [mine, missing]))).toBe(`include path ${missing}: no such folder`);
  });

  it('a file instead of a folder', () => {
    expect(userError(() => listSuites([myAddition]))).toBe(`include path ${myAddition}: not a folder (give the folder that holds the task YAMLs)`);
  });
});
