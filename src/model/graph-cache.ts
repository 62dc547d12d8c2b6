/**
 * Built graphs live on disk, keyed by (checkpoint content, graph spec, builder version), so a model is
 * converted once. Writes go to temporary names and are renamed into place, the external data file
 * first and the model file last: a killed build never leaves a truncated graph behind. A cached
 * graph that is damaged anyway (disk trouble, a hand edit) is rebuilt, with a one-line notice.
 */
import { createHash } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { UserError, oneLineReason } from '../errors.ts';
import type { Checkpoint } from './checkpoint.ts';
import { stableJson } from '../canonical-json.ts';
import { DecoderGraphBuilder, GRAPH_BUILDER_VERSION, isQuantized, QUANT_BLOCK_SIZE, type GraphSpec } from './graph-builder.ts';
import { onnx } from './onnx-graph.ts';

/**
 * Past this many bytes of weights a graph is written with ONNX external data. Protobuf's 2 GB limit
 * needs it; memory needs it much sooner: inside the model file the weights are encoded all at
 * once in JavaScript and parsed whole by ONNX Runtime, which held several copies of them (while
 * a weight in a side file is written one at a time and mapped by ONNX Runtime until pre-packed).
 */
const EXTERNAL_DATA_BYTES = 64 * 2 ** 20;

const CHOOSE = 'set FLEXIBENCH_CACHE_DIR to a writable folder to keep built graphs there';

/**
 * Where built graphs are cached: $FLEXIBENCH_CACHE_DIR, else ~/.cache/flexibench. An empty
 * FLEXIBENCH_CACHE_DIR counts as unset rather than meaning the current folder; an empty or relative
 * HOME is refused for the same reason (the cache would land wherever the command runs).
 */
export function cacheRoot(): string {
  const chosen = process.env['FLEXIBENCH_CACHE_DIR'];
  if (chosen !== undefined && chosen !== '') return chosen;
  let home: string;
  try {
    home = homedir();
  } catch (err) {
    // HOME unset and no home in the user database.
    throw new UserError(`HOME: not set, and the user has no home folder for the graph cache (${oneLineReason(err)}); ${CHOOSE}`);
  }
  if (home === '' || !isAbsolute(home))
    throw new UserError(`HOME: ${home === '' ? 'empty' : `'${home}' is not an absolute path`}, so there is no folder for the graph cache; ${CHOOSE}`);
  return join(home, '.cache', 'flexibench');
}

/**
 * Creates the cache's `graphs` folder `dir` if needed and checks that graphs can be written into it:
 * a one-line UserError naming the folder, the errno and how to choose another, before any graph is
 * built. access(2) answers as the kernel would for this user, a read-only mount included.
 */
function prepareGraphFolder(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? oneLineReason(err);
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'cannot be created, a part of its path is a file' : 'cannot be created or written';
    const unsetHome =
      !process.env['FLEXIBENCH_CACHE_DIR'] && process.env['HOME'] === undefined ? " (HOME is not set: the home folder is the user database's)" : '';
    throw new UserError(`${dir}: the graph cache folder ${why} (${code})${unsetHome}; ${CHOOSE}`);
  }
}

/**
 * What a graph is built as, and nothing else (a session's options passed along as the spec drop
 * out): fp32 is the absent precision, and the block size is there only when it changes the graph
 * (quantized, and not QUANT_BLOCK_SIZE), so cache keys and run ids made before either existed stay.
 */
export function canonicalSpec(spec: GraphSpec): GraphSpec {
  const { precision, blockSize, variant, removedLayers, hiddenStates } = spec;
  return {
    variant,
    ...(removedLayers !== undefined ? { removedLayers } : {}),
    ...(hiddenStates !== undefined ? { hiddenStates } : {}),
    ...(precision !== undefined && precision !== 'fp32' ? { precision } : {}),
    ...(isQuantized(precision) && blockSize !== undefined && blockSize !== QUANT_BLOCK_SIZE ? { blockSize } : {}),
  };
}

/** A graph spec as the key and file names have it: the plain variant name keeps the keys graphs had before specs. */
function specText(spec: GraphSpec): string {
  const canonical = canonicalSpec(spec);
  const plain = canonical.precision === undefined && canonical.removedLayers === undefined && canonical.hiddenStates !== true;
  return plain ? canonical.variant : stableJson(canonical);
}

export function graphKey(ckpt: Checkpoint, spec: GraphSpec): string {
  return createHash('sha256')
    .update(`${ckpt.contentHash}\0${specText(spec)}\0${GRAPH_BUILDER_VERSION}`)
    .digest('hex')
    .slice(0, 24);
}

/**
 * Throws the one-line refusal buildOrReuseGraph would give, now, when one of `specs` is not cached
 * and the cache folder cannot take it: a command checks this before anything slower (reading data,
 * building), so a cache it cannot use is named first. A read-only cache that already holds every
 * graph passes.
 */
export function requireGraphCache(ckpt: Checkpoint, specs: readonly GraphSpec[], root: string = cacheRoot()): void {
  const dir = join(root, 'graphs');
  if (specs.some((spec) => !existsSync(graphFile(dir, ckpt, spec)))) prepareGraphFolder(dir);
}

/** A built graph's bytes on disk: the model file and, when the weights went to one, its external data file. */
export function graphFileBytes(path: string): number {
  return [path, `${path}.data`].reduce((n, f) => n + (statSync(f, { throwIfNoEntry: false })?.size ?? 0), 0);
}

const graphFile = (dir: string, ckpt: Checkpoint, spec: GraphSpec): string => join(dir, `${graphKey(ckpt, spec)}-${spec.variant}.onnx`);

/**
 * Path of the cached graph for this checkpoint and variant, building it first if needed (or if the
 * cached one is damaged). Weights past `externalDataBytes` go to a side file (ONNX external data).
 */
export function buildOrReuseGraph(ckpt: Checkpoint, spec: GraphSpec, root: string = cacheRoot(), externalDataBytes = EXTERNAL_DATA_BYTES): string {
  const dir = join(root, 'graphs');
  const file = graphFile(dir, ckpt, spec);
  if (existsSync(file)) {
    const damage = graphDamage(file);
    if (damage === null) return file;
    process.stderr.write(`flexibench: rebuilding cached graph ${file}: ${damage}\n`);
    rmSync(file, { force: true });
  }
  prepareGraphFolder(dir);
  buildGraph(ckpt, spec, file, externalDataBytes);
  return file;
}

function buildGraph(ckpt: Checkpoint, spec: GraphSpec, file: string, externalDataBytes: number): void {
  const graph = new DecoderGraphBuilder(ckpt, spec).build();
  const suffix = `.${process.pid}.tmp`;
  const tmp = `${file}${suffix}`;
  // ORT resolves the data file by the name recorded in the model, relative to the model file, so
  // it is written under a temporary name and renamed to that name before the model file is.
  const dataName = `${basename(file)}.data`;
  const data = join(dirname(file), dataName);
  const dataTmp = `${data}${suffix}`;
  try {
    if (graph.initializerBytes() > externalDataBytes) {
      const fd = openSync(dataTmp, 'w');
      try {
        writeFileSync(tmp, graph.encode({ external: { location: dataName, write: (chunk) => writeSync(fd, chunk) } }));
      } finally {
        closeSync(fd);
      }
      renameSync(dataTmp, data);
    } else {
      writeFileSync(tmp, graph.encode());
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    rmSync(dataTmp, { force: true });
    throw err;
  }
}

/**
 * Why the cached graph at `file` cannot be loaded, or null when it looks whole. ORT would only say
 * "Protobuf parsing failed", and only inside a worker, after the run has started; decoding the
 * model here costs a read of the file (small beside the weights when they are external) and
 * protobufjs's decode, which views the weight bytes without copying them.
 */
function graphDamage(file: string): string | null {
  let model: ReturnType<typeof onnx.ModelProto.decode>;
  try {
    model = onnx.ModelProto.decode(readFileSync(file));
  } catch (err) {
    return `not a valid ONNX model (${oneLineReason(err)})`;
  }
  const graph = model.graph;
  if (!graph || (graph.node?.length ?? 0) === 0 || !(graph.output ?? []).some((o) => o.name === 'logits')) return 'the model has no decoder graph';
  // External data: every referenced file must exist and be long enough for what is read from it.
  const needed = new Map<string, number>();
  for (const t of graph.initializer ?? []) {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const entry = (key: string): string | undefined => t.externalData?.find((e) => e.key === key)?.value ?? undefined;
    const location = entry('location');
    if (location === undefined) return `initializer ${t.name} has external data with no location`;
    const end = Number(entry('offset') ?? 0) + Number(entry('length') ?? 0);
    needed.set(location, Math.max(needed.get(location) ?? 0, end));
  }
  for (const [location, end] of needed) {
    const path = join(dirname(file), location);
    const size = existsSync(path) ? statSync(path).size : -1;
    if (size < 0) return `its external data file ${location} is missing`;
    if (size < end) return `its external data file ${location} is truncated (${size} bytes, ${end} needed)`;
  }
  return null;
}
