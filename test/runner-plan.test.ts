// Study planning: prompts rendered once per doc, the chat form through the model's template with a
// single BOS, and the run identity's config hash following the suite config.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashJson, planSuite } from '../harness/runner/plan.ts';
import { TextTokenizer } from '../src/tokenizer/tokenizer.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';

const dataDir = process.env['FLEXIBENCH_DATA_DIR'] ?? resolve(import.meta.dirname, '../../shared/datasets');
const model = join(mkdtempSync(join(tmpdir(), 'fb-plan-')), 'm');
writeRandomCheckpoint(model, { routingLayers: [2, 3] });
const tok = TextTokenizer.load(model);

describe('planSuite', () => {
  it('renders chat suites through the model template, with exactly one BOS', () => {
    const plan = planSuite('gsm8k-chat', tok, { dataDir, limit: 2, seed: 0, maxLength: 1_000_000 });
    for (const { doc, promptText, promptIds } of plan.docs) {
      expect(Array.isArray(doc.prompt)).toBe(true);
      expect(promptText.startsWith('<s>[user] Question: ')).toBe(true);
      expect(promptText.endsWith('[assistant] ')).toBe(true);
      expect(promptText.match(/\[user\]/g)).toHaveLength(6); // five examples and the question
      expect(promptIds[0]).toBe(1);
      expect(promptIds.filter((id) => id === 1)).toHaveLength(1);
    }
  });

  it('adds BOS to plain prompts as the tokenizer says, and hashes the config', () => {
    const a = planSuite('addition', tok, { dataDir, limit: 3, seed: 0, maxLength: 1_000_000 });
    expect(a.docs).toHaveLength(3);
    for (const d of a.docs) {
      expect(d.promptIds[0]).toBe(1);
      expect(d.promptIds.slice(1)).toEqual(tok.encode(d.promptText, false));
    }
    expect(a.configHash).toBe(hashJson({ ...a.spec, file: undefined }));
    expect(planSuite('addition', tok, { dataDir, limit: 3, seed: 0, maxLength: 1_000_000 }).configHash).toBe(a.configHash);
    expect(planSuite('product', tok, { dataDir, limit: 3, seed: 0, maxLength: 1_000_000 }).configHash).not.toBe(a.configHash);
  });
});
