/**
 * What a benchmark's model costs to get running, for `bench --json`'s `scale` (issue 27): the
 * checkpoint's bytes on disk and the float32 weights each variant holds, seconds to check the
 * checkpoint, to build each variant's graph and to open each session, how much resident memory each
 * session added, and the process's peak. These are the figures that grow with the model, where
 * decode speed alone hides what scale costs.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, weightBytes, type Checkpoint } from '../../src/model/checkpoint.ts';
import { buildOrReuseGraph, graphFileBytes } from '../../src/model/graph-cache.ts';
import { QUANT_BLOCK_SIZE, hasRouters, type GraphSpec } from '../../src/model/graph-builder.ts';
import type { Variant } from '../../src/model/variants.ts';
import { withPrecision } from '../model-options.ts';
import { heldWeightBytes } from '../../src/model/held-weights.ts';
import { DecoderSession, type SessionOptions } from '../../src/model/session.ts';

export interface ScaleFigures {
  /** The safetensors files' bytes: what the checkpoint takes on disk. */
  checkpoint_bytes: number;
  /** The float32 bytes of every tensor the engine reads. */
  weight_bytes: number;
  /** Seconds to read config.json and the headers, check them and hash the files (no weight is read). */
  checkpoint_load_s: number;
  /** Per variant: seconds to build its graph (0 when it was cached), the graph files' bytes, and the bytes its weights take at the precision. */
  graphs: Partial<Record<Variant, { build_s: number; bytes: number; weight_bytes: number }>>;
  /** Per session, in the order created: seconds to open it and the resident memory it added. */
  sessions: { variant: Variant; open_s: number; rss_growth_bytes: number }[];
  /** The process's peak resident memory when the last round ended (Linux; null elsewhere). */
  peak_rss_bytes: number | null;
}

const seconds = (since: number): number => (performance.now() - since) / 1000;

/** Loads the checkpoint, timed. */
export function loadCheckpointTimed(dir: string): { ckpt: Checkpoint; loadSeconds: number } {
  const start = performance.now();
  const ckpt = loadCheckpoint(dir);
  return { ckpt, loadSeconds: seconds(start) };
}

/**
 * Opens one session per entry of `order`, building each variant's graph first (once), and times
 * each step and the resident memory each session adds.
 */
export async function openSessionsMeasured(
  ckpt: Checkpoint,
  loadSeconds: number,
  order: readonly Variant[],
  opts: Omit<SessionOptions, 'variant'>,
): Promise<{ sessions: DecoderSession[]; scale: ScaleFigures }> {
  const graphs: ScaleFigures['graphs'] = {};
  const paths = new Map<Variant, string>();
  const sessions: DecoderSession[] = [];
  const opened: ScaleFigures['sessions'] = [];
  for (const variant of order) {
    let path = paths.get(variant);
    if (path === undefined) {
      const start = performance.now();
      const spec = withPrecision({ variant }, opts.precision ?? 'fp32', opts.blockSize ?? QUANT_BLOCK_SIZE);
      path = buildOrReuseGraph(ckpt, spec, opts.cacheDir);
      graphs[variant] = { build_s: seconds(start), bytes: graphFileBytes(path), weight_bytes: variantWeightBytes(ckpt, spec) };
      paths.set(variant, path);
    }
    const rssBefore = process.memoryUsage.rss();
    const start = performance.now();
    sessions.push(await DecoderSession.open(path, ckpt.config, { ...opts, variant }));
    opened.push({ variant, open_s: seconds(start), rss_growth_bytes: process.memoryUsage.rss() - rssBefore });
  }
  return {
    sessions,
    scale: {
      checkpoint_bytes: checkpointBytes(ckpt.dir),
      weight_bytes: weightBytes(ckpt),
      checkpoint_load_s: loadSeconds,
      graphs,
      sessions: opened,
      peak_rss_bytes: null,
    },
  };
}

function checkpointBytes(dir: string): number {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

const ROUTER_TENSOR = /\.router(_proj)?\./;

/** The bytes of weights a variant's graph holds: every tensor, less the routers and adapters where it has none. */
function variantWeightBytes(ckpt: Checkpoint, spec: GraphSpec): number {
  const held = [...ckpt.tensors]
    .filter(([name]) => hasRouters(spec.variant) || !ROUTER_TENSOR.test(name))
    .map(([name, t]) => [name, t.shape] as [string, number[]]);
  return heldWeightBytes(held, spec.precision ?? 'fp32', ckpt.config.tieWordEmbeddings, spec.blockSize);
}

/** The memory fields of /proc/self/status (VmRSS, VmHWM, RssAnon, ...) in bytes; empty where /proc is not there (not Linux). */
export function procStatusBytes(): Map<string, number> {
  let status: string;
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    return new Map();
  }
  return new Map([...status.matchAll(/^(\w+):\s+(\d+) kB$/gm)].map((m) => [m[1]!, 1024 * Number(m[2])]));
}

/** The process's peak resident memory so far (VmHWM), or null where /proc is not there to say. */
export function peakRssBytes(): number | null {
  return procStatusBytes().get('VmHWM') ?? null;
}
