// The committed reference model (models/flexidepth-ref) against its second reference, PyTorch
// (training/reference_forward.py reads the same files): the same greedy tokens, gates within 1e-4
// and the same routing decisions wherever |g - 0.5| > 1e-4, for both variants, on prompts of every
// synthetic suite; its tokenizer gives the Python trainer's ids; `flexibench run` defaults to it.
// Needs Debian's python3-torch (.ci/run installs it); elsewhere without it the PyTorch parts are skipped, loudly.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TextTokenizer } from '../src/tokenizer/tokenizer.ts';
import { flexibench } from './cli.ts';
import { queryStudyFile } from './store-fixtures.ts';
import { DATA_DIR } from './shared-paths.ts';

const ROOT = resolve(import.meta.dirname, '..');
const MODEL = join(ROOT, 'models/flexidepth-ref');
const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!hasTorch) {
  if (process.env['CI']) throw new Error(`${PYTHON} cannot import torch: .ci/run must install python3-torch`);
  console.warn('reference-model PyTorch comparison skipped: /usr/bin/python3 has no torch');
}
const work = mkdtempSync(join(tmpdir(), 'fb-ref-'));
const env = { FLEXIBENCH_CACHE_DIR: join(work, 'cache') };

interface Positions {
  tokens: { id: number; gates: number[]; mask: boolean[]; layers_used: number }[];
}

// One prompt per synthetic suite format (tasks/FORMATS.md), none of them an evaluation item's answer.
const PROMPTS = [
  'Repeat the numbers: 12 7 305 44 9\nAnswer:',
  'Copy the text: Now is the winter of our discontent made glorious summer\nAnswer:',
  'Question: What is 318 + 476?\nAnswer:',
  'Question: What is 47 * 6?\nAnswer:',
  'Continue the text: To be, or not to be, that is the question:\nAnswer:',
];

describe.skipIf(!hasTorch)('reference model: ONNX engine = PyTorch', () => {
  it.each(['flexidepth', 'full'])('%s: same greedy tokens, gates and decisions', (variant) => {
    let decided = 0;
    let skipped = 0;
    for (const prompt of PROMPTS) {
      const want = JSON.parse(
        execFileSync(PYTHON, ['-m', 'training.reference_forward', '--model', MODEL, '--variant', variant, '--prompt', prompt, '--max-new-tokens', '24'], {
          cwd: ROOT,
          encoding: 'utf8',
        }),
      ) as Positions;
      const r = flexibench(['generate', '--model', MODEL, '--variant', variant, '--prompt', prompt, '--max-new-tokens', '24', '--json'], env);
      expect(r.status, r.stderr).toBe(0);
      const got = JSON.parse(r.stdout) as Positions;
      expect(
        got.tokens.map((t) => t.id),
        prompt,
      ).toEqual(want.tokens.map((t) => t.id));
      got.tokens.forEach((t, i) => {
        const w = want.tokens[i]!;
        expect(t.gates).toHaveLength(w.gates.length);
        w.gates.forEach((g, k) => {
          expect(Math.abs(t.gates[k]! - g)).toBeLessThan(1e-4);
          if (Math.abs(g - 0.5) > 1e-4) {
            expect(t.mask[k]).toBe(g > 0.5);
            decided++;
            if (g <= 0.5) skipped++;
          }
        });
        expect(t.layers_used).toBe(w.layers_used);
      });
    }
    // the comparison covers both paths of the routed layers, not only the full one
    if (variant === 'flexidepth') expect(skipped).toBeGreaterThan(0);
    if (variant === 'flexidepth') expect(decided - skipped).toBeGreaterThan(0);
  });

  it("the tokenizer gives the Python trainer's ids", () => {
    const texts = [
      ...PROMPTS,
      ...readFileSync(join(ROOT, 'tasks/FORMATS.md'), 'utf8')
        .split('\n')
        .filter((l) => l.trim()),
      'h\u00e9llo w\u00f6rld 12\u00bd \u2014 \u201cquotes\u201d \t tabs  double  spaces\n\n',
      '<|user|>\nWhat is 2 + 2?<|end|>\n<|assistant|>\n',
      '1234567890 0.5 -7 +3 1,000,000',
    ];
    const script =
      'import json,sys; sys.path.insert(0, "training"); from tokenizer import Tokenizer; ' +
      `t = Tokenizer.load("${MODEL}/tokenizer.json"); print(json.dumps([t.encode(x) for x in json.load(sys.stdin)]))`;
    const want = JSON.parse(execFileSync(PYTHON, ['-c', script], { cwd: ROOT, input: JSON.stringify(texts), encoding: 'utf8' })) as number[][];
    const tok = TextTokenizer.load(MODEL);
    texts.forEach((text, i) => expect(tok.encode(text, false), text).toEqual(want[i]));
  });
});

describe('flexibench run defaults to the reference model', () => {
  it('stores a study of the committed model when --model is not given', async () => {
    const db = join(work, 'default.duckdb');
    const r = flexibench(['run', '--suites', 'addition', '--limit', '2', '--db', db, '--workers', '1', '--data-dir', DATA_DIR], env);
    expect(r.status, r.stderr).toBe(0);
    const rows = await queryStudyFile(
      db,
      'SELECT r.model_dir, r.variant, count(*) AS n FROM runs r JOIN samples s USING (run_id) GROUP BY ALL ORDER BY r.variant',
    );
    expect(rows).toEqual([
      { model_dir: MODEL, variant: 'flexidepth', n: '2' },
      { model_dir: MODEL, variant: 'full', n: '2' },
    ]);
  });
});
