/**
 * What a benchmark's model costs to get running, for `bench --json`'s `scale` (issue 27): the
 * checkpoint's bytes on disk and the float32 weights held, seconds to load the checkpoint, to build
 * each variant's graph and to open each session, and how much resident memory each session added.
 * These are the figures that grow with the model, where decode speed alone hides what scale costs.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, weightBytes, type Checkpoint } from '../src/model/checkpoint.ts';
import { buildOrReuseGraph } from '../src/model/graph-cache.ts';
import type { Variant } from '../src/model/graph-builder.ts';
import { DecoderSession, type SessionOptions } from '../src/model/session.ts';

export interface ScaleFigures {
  /** The safetensors files' bytes: what the checkpoint takes on disk. */
  checkpoint_bytes: number;
  /** The float32 weights the loader holds. */
  weight_bytes: number;
  checkpoint_load_s: number;
  /** Per variant: seconds to build its graph (0 when it was cached) and the graph file's bytes. */
  graphs: Partial<Record<Variant, { build_s: number; bytes: number }>>;
  /** Per session, in the order created: seconds to open it and the resident memory it added. */
  sessions: { variant: Variant; open_s: number; rss_growth_bytes: number }[];
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
      path = buildOrReuseGraph(ckpt, { variant }, opts.cacheDir);
      graphs[variant] = { build_s: seconds(start), bytes: graphBytes(path) };
      paths.set(variant, path);
    }
    const rssBefore = process.memoryUsage.rss();
    const start = performance.now();
    sessions.push(await DecoderSession.open(path, ckpt.config, { ...opts, variant }));
    opened.push({ variant, open_s: seconds(start), rss_growth_bytes: process.memoryUsage.rss() - rssBefore });
  }
  return {
    sessions,
    scale: { checkpoint_bytes: checkpointBytes(ckpt.dir), weight_bytes: weightBytes(ckpt), checkpoint_load_s: loadSeconds, graphs, sessions: opened },
  };
}

function checkpointBytes(dir: string): number {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

/** A graph's file and its external data file, when the weights went to one. */
function graphBytes(path: string): number {
  return [path, `${path}.data`].reduce((n, f) => n + (statSync(f, { throwIfNoEntry: false })?.size ?? 0), 0);
}
