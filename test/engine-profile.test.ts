// Skipping is real: ONNX Runtime's profiler shows that in a decode step whose token skips a routed
// layer, that layer's query projection, attention and FFN kernels did not run on any row, and in a
// step whose token takes the full path they ran on its one row.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { argmax } from '../src/model/sampling.ts';
import { DecoderSession } from '../src/model/session.ts';
import { writeRandomCheckpoint } from './fixtures/random-checkpoint.ts';

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { input_type_shape?: Record<string, number[]>[] };
}

/** The blocks that the skip path must not execute, as node-name prefixes of layer `l`. */
const fullPathBlocks = (l: number): string[] => [
  `/model/layers.${l}/attn/q_proj/`,
  `/model/layers.${l}/attn/qk/`,
  `/model/layers.${l}/attn/softmax/`,
  `/model/layers.${l}/attn/pv/`,
  `/model/layers.${l}/attn/o_proj/`,
  `/model/layers.${l}/mlp/gate_proj/`,
  `/model/layers.${l}/mlp/up_proj/`,
  `/model/layers.${l}/mlp/down_proj/`,
];

const elements = (e: ProfileEvent): number => {
  const first = e.args?.input_type_shape?.[0];
  const dims = first ? Object.values(first)[0]! : [];
  return dims.reduce((a, b) => a * b, 1);
};

it('a skipped routed layer runs no query, attention or FFN kernel; a taken one runs them on its row', async () => {
  const work = mkdtempSync(join(tmpdir(), 'fb-profile-'));
  writeRandomCheckpoint(join(work, 'ckpt'), { routingLayers: [2, 3], routerHeadScale: 4, seed: 11 });
  const ckpt = loadCheckpoint(join(work, 'ckpt'));
  const session = await DecoderSession.create(ckpt, { variant: 'flexidepth', cacheDir: join(work, 'cache'), profilePrefix: join(work, 'profile') });
  const V = ckpt.config.vocabSize;
  let out = await session.step([1, 17, 42, 5], session.emptyCache());
  const stepGates: number[][] = [];
  for (let k = 0; k < 12; k++) {
    out = await session.step([argmax(out.logits.subarray(out.logits.length - V))], out.cache);
    stepGates.push(Array.from(out.gates));
  }
  const events = JSON.parse(readFileSync(session.endProfiling(), 'utf8')) as ProfileEvent[];
  await session.release();

  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  expect(runs.length).toBe(13); // prefill + 12 decode steps
  const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  const inRun = (r: ProfileEvent): ProfileEvent[] => nodes.filter((e) => e.ts >= r.ts && e.ts <= r.ts + r.dur);

  let skippedChecks = 0;
  let takenChecks = 0;
  ckpt.config.routingLayers.forEach((layer, r) => {
    stepGates.forEach((gates, k) => {
      const ran = inRun(runs[k + 1]!);
      for (const block of fullPathBlocks(layer)) {
        const hits = ran.filter((e) => e.name.startsWith(block));
        if (gates[r]! > 0.5) {
          expect(hits.length, `${block} in taken step ${k}`).toBeGreaterThan(0);
          for (const h of hits) expect(elements(h), `${h.name} rows in taken step ${k}`).toBeGreaterThan(0);
          takenChecks++;
        } else {
          for (const h of hits) expect(elements(h), `${h.name} ran on rows in skipped step ${k}`).toBe(0);
          skippedChecks++;
        }
      }
      // The adapter is the mirror image: it runs only for skipped tokens.
      const adapter = ran.filter((e) => e.name.startsWith(`/model/layers.${layer}/adapter/up_proj/`));
      expect(adapter.some((e) => elements(e) > 0)).toBe(!(gates[r]! > 0.5));
    });
  });
  // Both situations occurred, or the test proved nothing.
  expect(skippedChecks).toBeGreaterThan(0);
  expect(takenChecks).toBeGreaterThan(0);
  // q_proj sees exactly one row (one token of one sequence, [1, 1, d]) when taken.
  const taken = stepGates.findIndex((g) => g[0]! > 0.5);
  const q = inRun(runs[taken + 1]!).find((e) => e.name.startsWith(`/model/layers.${ckpt.config.routingLayers[0]}/attn/q_proj/`))!;
  expect(Object.values(q.args!.input_type_shape![0]!)[0]).toEqual([1, 1, ckpt.config.hiddenSize]);
});
