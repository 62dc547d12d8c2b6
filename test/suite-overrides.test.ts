// run --num-fewshot / --max-new-tokens (issue 29): lm-eval's overrides change every suite's loaded
// config, so its prompts, and with them the run identity's config hash; a suite with nothing to
// draw examples from is refused in one line naming its file.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planSuite, type PlanOptions } from '../harness/runner/plan.ts';
import { TextTokenizer } from '../src/tokenizer/tokenizer.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

const model = join(mkdtempSync(join(tmpdir(), 'fb-overrides-')), 'm');
writeRandomCheckpoint(model, { routingLayers: [2, 3] });
const tok = TextTokenizer.load(model);
const opts = (overrides: PlanOptions['overrides'] = {}): PlanOptions => ({ dataDir, limit: 3, seed: 0, maxLength: 1_000_000, overrides });
const questions = (prompt: string): number => prompt.split('Question:').length - 1;

describe('suite overrides', () => {
  it('--num-fewshot draws that many examples per prompt, and makes another run; its own count changes nothing', () => {
    const own = planSuite('gsm8k', tok, opts());
    expect(own.spec.fewshot.count).toBe(5);
    expect(own.docs.map((d) => questions(d.promptText))).toEqual([6, 6, 6]);
    const two = planSuite('gsm8k', tok, opts({ numFewshot: 2 }));
    expect(two.docs.map((d) => questions(d.promptText))).toEqual([3, 3, 3]);
    expect(two.docs.map((d) => d.docId)).toEqual(own.docs.map((d) => d.docId));
    expect(two.configHash).not.toBe(own.configHash);
    const zero = planSuite('gsm8k', tok, opts({ numFewshot: 0 }));
    expect(zero.docs.map((d) => questions(d.promptText))).toEqual([1, 1, 1]);
    expect(planSuite('gsm8k', tok, opts({ numFewshot: 5 })).configHash).toBe(own.configHash);
  });

  it("--max-new-tokens replaces each suite's own, and makes another run", () => {
    const own = planSuite('addition', tok, opts());
    const four = planSuite('addition', tok, opts({ maxNewTokens: 4 }));
    expect(four.spec.generation.max_new_tokens).toBe(4);
    expect(four.configHash).not.toBe(own.configHash);
    expect(four.docs.map((d) => d.promptText)).toEqual(own.docs.map((d) => d.promptText));
  });

  it('a suite with nothing to draw examples from is refused, naming the suite and its file', () => {
    expect(() => planSuite('addition', tok, opts({ numFewshot: 3 }))).toThrow(
      /^run: --num-fewshot 3: suite addition has no examples to draw from \(its items are generated in tasks\/addition\.yaml\)$/,
    );
    expect(() => planSuite('cnndm', tok, opts({ numFewshot: 1 }))).toThrow(
      /suite cnndm has no examples to draw from \(no fewshot\.split in tasks\/cnndm\.yaml\)/,
    );
  });
});
