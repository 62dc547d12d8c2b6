// Run ids and suite config hashes are stored in every study: rerunning a study resumes only if they
// come out the same. The pinned values were computed before canonical JSON got its one owner
// (src/canonical-json.ts), with the two implementations it replaced.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planSuite } from '../harness/runner/plan.ts';
import { stableJson, stableJsonHash } from '../src/canonical-json.ts';
import { runIdOf, type RunIdentity } from '../src/store/run-identity.ts';
import { TextTokenizer } from '../src/tokenizer/tokenizer.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';
import { DATA_DIR as dataDir } from './shared-paths.ts';

describe('identities of existing studies', () => {
  it('a run id is unchanged', () => {
    const identity: RunIdentity = {
      modelHash: 'abc',
      variant: 'full',
      suite: 'addition',
      suiteConfigHash: 'def',
      seed: 0,
      limit: null,
      threshold: 0.5,
      generation: { max_new_tokens: 16, stop: ['\n'], sampling: { method: 'greedy' }, max_length: 128 },
    };
    expect(runIdOf(identity)).toBe('7fe94bec12596cfb');
  });

  it("tasks/addition.yaml's config hash is unchanged", () => {
    const model = join(mkdtempSync(join(tmpdir(), 'fb-identity-')), 'm');
    writeRandomCheckpoint(model, { routingLayers: [2, 3] });
    const plan = planSuite('addition', TextTokenizer.load(model), { dataDir, limit: 1, seed: 0, maxLength: 256 });
    expect(plan.configHash).toBe('d222a1ff0e3a7fed5c17b9d7a6d0df268396fbe27014a8d928ac0f35ef5f6597');
  });
});

describe('canonical JSON', () => {
  it('does not depend on key order, at any depth', () => {
    expect(stableJson({ b: 1, a: { d: [{ y: 1, x: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[{"x":2,"y":1}]},"b":1}');
    expect(stableJsonHash({ b: 1, a: 2 })).toBe(stableJsonHash({ a: 2, b: 1 }));
    expect(stableJsonHash({ a: 1 })).not.toBe(stableJsonHash({ a: 2 }));
  });

  it('reads values as JSON.stringify does: undefined members dropped, toJSON applied', () => {
    const value = { when: new Date(Date.UTC(2024, 0, 2)), gone: undefined, list: [undefined, 1] };
    expect(stableJson(value)).toBe('{"list":[null,1],"when":"2024-01-02T00:00:00.000Z"}');
    expect(stableJson({ a: 1, b: undefined })).toBe(stableJson({ a: 1 }));
  });

  it('refuses a value with no JSON form instead of hashing nothing', () => {
    expect(() => stableJson(undefined)).toThrow(/no JSON form/);
  });
});
