/**
 * Where a decode step's time goes, by ONNX Runtime op type: one session of one variant on one
 * thread with ORT's profiler on, a warm-up generation, then --steps decode steps after a 16-token
 * prompt. Prints the profiled session.run time per decode step and each op type's kernel time per
 * step (the --top largest). An `If`'s time includes the kernels of the branch it ran, which are
 * also counted under their own op types, so the rows add up to more than the step.
 *
 *   node --import tsx perf/prof-ops.ts --model DIR --cache DIR [--variant flexidepth|full] [--precision fp32|fp16|int8|int4] [--block-size 32] [--threshold 0.5] [--steps 32] [--top 12]
 *
 * The profile is written to a temporary folder and removed. Used by docs/performance.md,
 * "Where a decode step's time goes".
 */
import { DEFAULT_THRESHOLD } from '../src/model/variants.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { generate } from '../src/model/generate.ts';
import { DecoderSession } from '../src/model/session.ts';
import { fixedPrompt, GRAPH_OPTIONS, graphSpec, numeric, options, text } from './common.ts';

const USAGE = `
usage: node --import tsx perf/prof-ops.ts --model DIR --cache DIR [--variant flexidepth|full] [--precision fp32|fp16|int8|int4] [--block-size 32] [--threshold 0.5] [--steps 32] [--top 12]
`;
const o = options(USAGE, {
  model: { type: 'string', required: true },
  cache: { type: 'string', required: true },
  ...GRAPH_OPTIONS,
  threshold: { type: 'string', default: String(DEFAULT_THRESHOLD) },
  steps: { type: 'string', default: '32' },
  top: { type: 'string', default: '12' },
});

/** The fields of ORT's profile events (Chrome trace format) read here. */
interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

const steps = numeric('steps', o.steps);
const threshold = numeric('threshold', o.threshold);
const ckpt = loadCheckpoint(text(o.model));
const spec = graphSpec(text(o.variant), text(o.precision), numeric('block-size', o['block-size']));
const profileDir = mkdtempSync(join(tmpdir(), 'flexibench-prof-ops-'));
try {
  const session = await DecoderSession.create(ckpt, { ...spec, cacheDir: text(o.cache), intraOpThreads: 1, profilePrefix: join(profileDir, 'profile') });
  const prompt = fixedPrompt(ckpt.config);
  await generate(session, prompt, { maxNewTokens: 4, threshold });
  const gen = await generate(session, prompt, { maxNewTokens: steps, threshold });
  const events = JSON.parse(readFileSync(session.endProfiling(), 'utf8')) as ProfileEvent[];
  await session.release();

  // The last `steps` session runs are the decode steps of the measured generation.
  const decodeRuns = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').slice(-steps);
  const first = decodeRuns[0]!.ts;
  const inDecode = (e: ProfileEvent): boolean => e.ts >= first && decodeRuns.some((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur);
  const byOp = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !inDecode(e)) continue;
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
  }
  const runMs = decodeRuns.reduce((n, r) => n + r.dur, 0) / steps / 1000;
  const skipped = gen.positions.slice(prompt.length).flatMap((p) => p.mask.filter((full) => !full)).length;
  const routed = gen.positions.slice(prompt.length).reduce((n, p) => n + p.mask.length, 0);
  console.log(
    `${spec.variant} ${spec.precision ?? 'fp32'}: session.run ${runMs.toFixed(2)} ms per decode step under the profiler ` +
      `(decode ${(gen.timing.decodeMs / steps).toFixed(2)} ms per step)${routed > 0 ? `, skip rate ${(skipped / routed).toFixed(3)} at threshold ${threshold}` : ''}`,
  );
  for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, numeric('top', o.top))) {
    const ms = us / steps / 1000;
    console.log(`  ${op.padEnd(30)} ${ms.toFixed(3).padStart(9)} ms per step  ${((100 * ms) / runMs).toFixed(1).padStart(5)}%`);
  }
} finally {
  rmSync(profileDir, { recursive: true, force: true });
}
