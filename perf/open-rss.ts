/**
 * What a graph costs in memory, in two steps, each in its own fresh process:
 * - build (the default): checks the checkpoint and builds the graph (or finds it in the cache),
 *   then prints the graph's path, its bytes on disk, the build's seconds and the process's peak
 *   resident memory (VmHWM): the streaming build's memory, load and build together;
 * - --open: opens a session on the graph the build step left in the cache and prints where the
 *   session's memory is: VmRSS before and after, split into RssAnon (ONNX Runtime's own buffers,
 *   pre-packed weights) and RssFile (mapped external data still resident), and the peak, against
 *   the graph's bytes. A graph not yet built is built first, and then says so: its figures include
 *   the build's heap, so rerun it.
 *
 *   node --import tsx perf/open-rss.ts --model DIR --cache DIR [--variant flexidepth|full] [--precision fp32|fp16|int8|int4] [--block-size 32] [--open]
 *
 * Used by docs/performance.md, "Memory: build and sessions" and "Llama-3-8B shape at int4". The
 * build step prints the graph path that perf/graph-ab.ts takes.
 */
import { statSync } from 'node:fs';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { buildOrReuseGraph, graphFileBytes } from '../src/model/graph-cache.ts';
import { DecoderSession } from '../src/model/session.ts';
import { describeMemory, gb, GRAPH_OPTIONS, graphSpec, memory, numeric, options, secondsSince, text } from './common.ts';

const USAGE = `
usage: node --import tsx perf/open-rss.ts --model DIR --cache DIR [--variant flexidepth|full] [--precision fp32|fp16|int8|int4] [--block-size 32] [--open]
`;
const o = options(USAGE, {
  model: { type: 'string', required: true },
  cache: { type: 'string', required: true },
  ...GRAPH_OPTIONS,
  open: { type: 'boolean' },
});

const ckpt = loadCheckpoint(text(o.model));
const spec = graphSpec(text(o.variant), text(o.precision), numeric('block-size', o['block-size']));
const start = performance.now();
const startedAt = Date.now();
const path = buildOrReuseGraph(ckpt, spec, text(o.cache));
const built = statSync(path).mtimeMs >= startedAt;
const seconds = secondsSince(start);
const bytes = graphFileBytes(path);
const name = `${spec.variant} ${spec.precision ?? 'fp32'}${spec.blockSize !== undefined ? `/${spec.blockSize}` : ''}`;
console.log(`${name}: graph ${path}, ${gb(bytes)}; ${built ? `built in ${seconds.toFixed(1)} s` : 'found in the cache'}`);
if (o.open !== true) {
  console.log(`after checking the checkpoint${built ? ' and building' : ''}: ${describeMemory(memory())}`);
} else {
  if (built) console.log('note: the graph was built in this process, so the figures below include the build; run again to measure the open alone');
  const before = memory();
  const t = performance.now();
  const session = await DecoderSession.open(path, ckpt.config, { ...spec, intraOpThreads: 1 });
  const after = memory();
  console.log(`before open: ${describeMemory(before)}`);
  console.log(`after open (${secondsSince(t).toFixed(1)} s): ${describeMemory(after)}`);
  console.log(
    `the session added ${gb(after.rss - before.rss)} (anon ${gb(after.anon - before.anon)}, file ${gb(after.file - before.file)}): ${((after.rss - before.rss) / bytes).toFixed(2)}x the graph`,
  );
  await session.release();
}
