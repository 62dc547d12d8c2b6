/**
 * Built graphs live on disk, keyed by (checkpoint content, variant, builder version), so a model is
 * converted once. Writes go to a temporary name and are renamed into place: a killed build never
 * leaves a truncated graph behind.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Checkpoint } from './checkpoint.ts';
import { DecoderGraphBuilder, GRAPH_BUILDER_VERSION, type Variant } from './graph-builder.ts';

/** Past this many bytes of weights a graph is written with ONNX external data (protobuf's 2 GB limit). */
const EXTERNAL_DATA_BYTES = 1 << 30;

export function cacheRoot(): string {
  return process.env['FLEXIBENCH_CACHE_DIR'] ?? join(homedir(), '.cache', 'flexibench');
}

export function graphKey(ckpt: Checkpoint, variant: Variant): string {
  return createHash('sha256').update(`${ckpt.contentHash}\0${variant}\0${GRAPH_BUILDER_VERSION}`).digest('hex').slice(0, 24);
}

/**
 * Path of the cached graph for this checkpoint and variant, building it first if needed. Weights
 * past `externalDataBytes` go to a side file (ONNX external data).
 */
export function cachedGraphPath(ckpt: Checkpoint, variant: Variant, root: string = cacheRoot(), externalDataBytes = EXTERNAL_DATA_BYTES): string {
  const dir = join(root, 'graphs');
  const file = join(dir, `${graphKey(ckpt, variant)}-${variant}.onnx`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const graph = new DecoderGraphBuilder(ckpt, variant).build();
  const tmp = `${file}.${process.pid}.tmp`;
  if (graph.initializerBytes() > externalDataBytes) {
    // ORT resolves the data file relative to the model file, so it keeps its final name; the model
    // file is renamed last and is what marks the pair complete.
    const dataName = `${graphKey(ckpt, variant)}-${variant}.onnx.data`;
    const fd = openSync(join(dir, dataName), 'w');
    try {
      writeFileSync(tmp, graph.encode({ external: { location: dataName, write: (chunk) => writeSync(fd, chunk) } }));
    } finally {
      closeSync(fd);
    }
  } else {
    writeFileSync(tmp, graph.encode());
  }
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return file;
}
