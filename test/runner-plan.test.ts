// Study planning: prompts rendered once per doc, the chat form through the model's template with a
// single BOS, and the run identity's config hash following the suite config.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planSuite } from '../harness/runner/plan.ts';
import { TextTokenizer } from '../src/tokenizer/tokenizer.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

const model = join(mkdtempSync(join(tmpdir(), 'fb-plan-')), 'm');
writeRandomCheckpoint(model, { routingLayers: [2, 3] });
const tok = TextTokenizer.load(model);

describe('planSuite', () => {
  it('renders chat suites through the model template, with exactly one BOS', () => {
    const plan = planSuite('gsm8k-chat', tok, { dataDir, limit: 2, seed: 0, maxLength: 1_000_000, includePaths: [] });
    for (const { prompt, promptText, promptIds } of plan.docs) {
      expect(Array.isArray(prompt)).toBe(true);
      expect(promptText.startsWith('<s>[user] Question: ')).toBe(true);
      expect(promptText.endsWith('[assistant] ')).toBe(true);
      expect(promptText.match(/\[user\]/g)).toHaveLength(6); // five examples and the question
      expect(promptIds[0]).toBe(1);
      expect(promptIds.filter((id) => id === 1)).toHaveLength(1);
    }
  });

  it('adds BOS to plain prompts as the tokenizer says, and hashes the config', () => {
    const a = planSuite('addition', tok, { dataDir, limit: 3, seed: 0, maxLength: 1_000_000, includePaths: [] });
    expect(a.docs).toHaveLength(3);
    for (const d of a.docs) {
      expect(d.promptIds[0]).toBe(1);
      expect(d.promptIds.slice(1)).toEqual(tok.encode(d.promptText, false));
    }
    // The hash follows the config's content, not the file it was read from.
    const copy = join(mkdtempSync(join(tmpdir(), 'fb-plan-copy-')), 'addition.yaml');
    copyFileSync(resolve(import.meta.dirname, '../tasks/addition.yaml'), copy);
    const fromCopy = planSuite(copy, tok, { dataDir, limit: 3, seed: 0, maxLength: 1_000_000, includePaths: [] });
    expect(fromCopy.spec.file).not.toBe(a.spec.file);
    expect(fromCopy.configHash).toBe(a.configHash);
    expect(planSuite('addition', tok, { dataDir, limit: 3, seed: 0, maxLength: 1_000_000, includePaths: [] }).configHash).toBe(a.configHash);
    expect(planSuite('product', tok, { dataDir, limit: 3, seed: 0, maxLength: 1_000_000, includePaths: [] }).configHash).not.toBe(a.configHash);
  });
});
