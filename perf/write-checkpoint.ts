/**
 * Writes a synthetic FlexiDepth checkpoint to a folder and keeps it, for the scripts that take
 * --model (one-session.ts, open-rss.ts, prof-ops.ts, graph-ab.ts). It is the checkpoint
 * `flexibench bench --synthetic` writes to a temporary folder and removes: BF16 safetensors shards
 * of up to 5 GB with an index, seeded random weights, routers and adapters on the second half of
 * the layers. Prints the seconds taken and the bytes on disk.
 *
 *   node --import tsx perf/write-checkpoint.ts --out DIR --size HIDDEN:LAYERS|llama-3-8b [--seed 1] [--max-positions 2048]
 *
 * Used by docs/performance.md, "Memory: build and sessions", "Where a decode step's time goes" and
 * "Llama-3-8B shape at int4". At llama-3-8b it writes 16.5 GB (about 7 minutes here); 2048:16
 * writes 1.6 GB.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NAMED_SHAPES, writeSyntheticCheckpoint, type SyntheticCheckpointOptions } from '../src/model/synthetic-checkpoint.ts';
import { gb, numeric, options, secondsSince, text } from './common.ts';

const USAGE = `
usage: node --import tsx perf/write-checkpoint.ts --out DIR --size HIDDEN:LAYERS|${Object.keys(NAMED_SHAPES).join('|')} [--seed 1] [--max-positions 2048]
`;
const o = options(USAGE, {
  out: { type: 'string', required: true },
  size: { type: 'string', required: true },
  seed: { type: 'string', default: '1' },
  'max-positions': { type: 'string', default: '2048' },
});

/** HIDDEN:LAYERS or a named shape, as `bench --synthetic` takes it (writeSyntheticCheckpoint refuses a shape that is not Llama's). */
function size(spec: string): Pick<SyntheticCheckpointOptions, 'hiddenSize' | 'numLayers' | 'shape'> {
  const named = Object.hasOwn(NAMED_SHAPES, spec) ? NAMED_SHAPES[spec] : undefined;
  if (named !== undefined) return named;
  const m = /^(\d+):(\d+)$/.exec(spec);
  if (m === null) throw new Error(`--size must be HIDDEN:LAYERS or one of ${Object.keys(NAMED_SHAPES).join(', ')}, got '${spec}'`);
  return { hiddenSize: Number(m[1]), numLayers: Number(m[2]) };
}

const dir = text(o.out);
const start = performance.now();
await writeSyntheticCheckpoint(dir, { ...size(text(o.size)), seed: numeric('seed', o.seed), maxPositions: numeric('max-positions', o['max-positions']) });
const bytes = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
console.log(`wrote ${dir}: ${gb(bytes)} in ${secondsSince(start).toFixed(1)} s`);
