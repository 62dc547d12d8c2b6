/**
 * `flexibench score` and `flexibench data verify` through the real command line.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DATA_DIR as dataDir } from './shared-paths.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const bin = path.join(repoRoot, 'bin', 'flexibench.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'flexibench-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, FLEXIBENCH_DATA_DIR: dataDir } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('flexibench score', () => {
  it('prints each line back with its metrics and nothing else on stdout', () => {
    const input = path.join(tmp, 'gsm8k.jsonl');
    const lines = [
      { id: 'a', prediction: ' So she makes $18.\n#### 18\n\nQuestion: next', reference: 'Janet...\n#### 18' },
      { prediction: 'The answer is 1,000', reference: '#### 1000' },
      { prediction: 'no idea', reference: '#### 3' },
    ];
    writeFileSync(input, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const r = run(['score', '--suite', 'gsm8k', '--input', input]);
    expect(r.status).toBe(0);
    const out = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(out).toEqual([
      { ...lines[0], metrics: { strict_match: 1, flexible_extract: 1, strict_match_answer: '18', flexible_extract_answer: '18' } },
      { ...lines[1], metrics: { strict_match: 0, flexible_extract: 1, strict_match_answer: '[invalid]', flexible_extract_answer: '1,000' } },
      { ...lines[2], metrics: { strict_match: 0, flexible_extract: 0, strict_match_answer: '[invalid]', flexible_extract_answer: '[invalid]' } },
    ]);
    expect(r.stderr).toContain('score: gsm8k: 3 lines, mean strict_match=0.3333 flexible_extract=0.6667');
  });

  it('scores ROUGE for the summarization suites', () => {
    const input = path.join(tmp, 'xsum.jsonl');
    writeFileSync(input, `${JSON.stringify({ prediction: 'the cats are running', reference: 'the cat is running' })}\n`);
    const r = run(['score', '--suite', 'xsum', '--input', input]);
    expect(r.status).toBe(0);
    const { metrics } = JSON.parse(r.stdout) as { metrics: Record<string, number> };
    expect(Object.keys(metrics)).toEqual(['rouge1', 'rouge2', 'rougeL', 'rougeLsum']);
    expect(metrics.rouge1).toBeCloseTo(0.75, 10);
  });

  it('reads stdin with --input -', () => {
    const out = execFileSync(process.execPath, [bin, 'score', '--suite', 'addition', '--input', '-'], {
      cwd: repoRoot,
      input: '{"prediction":" 936","reference":"936"}\n',
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual({ prediction: ' 936', reference: '936', metrics: { exact_match: 1, answer: '936' } });
  });

  it('bad input fails with one line naming the file and line', () => {
    const input = path.join(tmp, 'bad.jsonl');
    writeFileSync(input, '{"prediction":"1","reference":"1"}\n{"prediction":1,"reference":"1"}\n');
    const r = run(['score', '--suite', 'addition', '--input', input]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`flexibench: ${input}:2: "prediction" must be a string\n`);
    expect(r.stdout).toBe('');
  });

  it('an unknown suite or missing option fails with one line', () => {
    expect(run(['score', '--suite', 'nope', '--input', 'x']).stderr).toMatch(/^flexibench: unknown suite 'nope' \(known: .*\)\n$/);
    expect(run(['score', '--suite', 'gsm8k']).stderr).toBe('flexibench: score: missing required option --input\n');
  });
});

describe('flexibench data', () => {
  it('verify passes on the mirror and fails on an empty folder', () => {
    const ok = run(['data', 'verify', '--data-dir', dataDir]);
    expect(ok.status).toBe(0);
    expect(ok.stderr).toContain('ok       gsm8k/test.jsonl');
    const bad = run(['data', 'verify', '--data-dir', tmp, '--dataset', 'xsum']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`flexibench: data verify: 2 file(s) missing or altered in ${tmp}`);
  });

  it('list prints the manifests as JSON', () => {
    const r = run(['data', 'list', '--dataset', 'gsm8k']);
    const parsed = JSON.parse(r.stdout) as { datasets: { name: string; license: string }[] };
    expect(parsed.datasets.map((d) => [d.name, d.license])).toEqual([['gsm8k', 'MIT']]);
  });
});
