// `flexibench items` prints what `flexibench run` feeds the model: the same seeded subset, the same
// rendered prompts and references (checked against a real run's stored samples), and the same
// token ids (the run's stored prompt tokens), chat suites rendered through the model's template.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { flexibench } from './cli.ts';
import { queryStudyFile } from './store-fixtures.ts';
import type { ItemLine } from '../harness/commands/items.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

const work = mkdtempSync(join(tmpdir(), 'fb-items-'));
const model = join(work, 'ddllama');
const env = { FLEXIBENCH_CACHE_DIR: join(work, 'cache'), FLEXIBENCH_DATA_DIR: dataDir };

function items(args: string[]): ItemLine[] {
  const r = flexibench(['items', ...args], env);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as ItemLine);
}

beforeAll(() => {
  writeRandomCheckpoint(model, { routingLayers: [2, 3], seed: 5 });
});

describe('flexibench items', () => {
  it('prints the prompts, references and token ids that run stores for the same suite, limit and seed', async () => {
    const db = join(work, 'study.duckdb');
    for (const seed of ['0', '7']) {
      const r = flexibench(
        ['run', '--model', model, '--suites', 'addition', '--limit', '3', '--seed', seed, '--workers', '1', '--variants', 'full', '--db', db],
        env,
      );
      expect(r.status, r.stderr).toBe(0);
      const stored = await queryStudyFile<{ doc_id: string; doc_index: number; prompt: string; reference: string; ids: number[] }>(
        db,
        `SELECT s.doc_id, s.doc_index, s.prompt, s.reference,
                (SELECT list(t.token_id ORDER BY t.position) FROM tokens t WHERE t.run_id = s.run_id AND t.doc_id = s.doc_id AND t.phase = 'prompt') AS ids
           FROM samples s JOIN runs r USING (run_id) WHERE r.seed = ${seed} ORDER BY s.doc_index`,
      );
      const got = items(['--suite', 'addition', '--limit', '3', '--seed', seed, '--model', model]);
      expect(got.map((i) => ({ doc_id: i.doc_id, doc_index: i.doc_index, prompt: i.prompt, reference: i.reference, ids: i.prompt_ids }))).toEqual(
        stored.map((s) => ({ ...s, ids: [...s.ids] })),
      );
      expect(got.every((i) => i.suite === 'addition' && i.target === i.reference && i.max_new_tokens === 8)).toBe(true);
    }
  });

  it('gives a larger limit as a superset, and every item without --limit', () => {
    const three = items(['--suite', 'repetition', '--limit', '3', '--model', model]);
    const ten = items(['--suite', 'repetition', '--limit', '10', '--model', model]);
    expect(ten.map((i) => i.doc_id)).toEqual(expect.arrayContaining(three.map((i) => i.doc_id)));
    expect(items(['--suite', 'repetition', '--model', model])).toHaveLength(500);
  });

  it("renders chat suites through the model's chat template, BOS written once by the template", () => {
    const [item] = items(['--suite', 'gsm8k-chat', '--limit', '1', '--model', model]);
    expect(item!.prompt.startsWith('<s>[user] Question: ')).toBe(true);
    expect(item!.prompt_ids.filter((id) => id === 1)).toHaveLength(1);
    expect(item!.stop).toContain('Question:');
  });

  it('answers --help and rejects a missing suite with one line', () => {
    const help = flexibench(['items', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: flexibench items --suite <NAME> [options]');
    expect(help.stdout).toContain('--max-length <N>');
    const bad = flexibench(['items', '--limit', '3']);
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe('flexibench: items: missing required option --suite');
  });
});
