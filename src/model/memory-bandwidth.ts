/**
 * A short probe of this machine's memory read bandwidth, the bound a batch-1 decode step's weight
 * stream (weight-traffic.ts) is measured against.
 *
 * The stream is Buffer.compare over two equal buffers: glibc's vectorized memcmp reads both to the
 * end and writes nothing, as a decode step reads its weights. A copy would also write, and each
 * written line is first read into cache (write-allocate), so it would mix in traffic a step does not
 * have. The buffers are far larger than any last-level cache, so every repeat comes from memory.
 *
 * It must run on the benchmark's own thread and in its process: what one thread can draw is set by
 * the core it runs on and the memory node it is placed near, and a process elsewhere (another core
 * set, another NUMA node, another cgroup) would measure a different bound. It is one thread's
 * figure: an engine running several intra-op threads can draw more than it.
 */
import { median } from '../median.ts';

export interface MemoryBandwidth {
  /** Median over the repeats of bytes read per second. */
  bytes_per_s: number;
  spread: { min: number; max: number };
  /** Size of each of the two buffers compared. */
  buffer_bytes: number;
  repeats: number;
}

const DEFAULT_BYTES = 256 * 1024 * 1024;
const DEFAULT_REPEATS = 7;
/** Any non-zero byte: see fill below. */
const FILL_BYTE = 0xa5;

/** Per-repeat bandwidths; the buffers live only here, so they are garbage once it returns. */
function sample(bytes: number, repeats: number): number[] {
  const a = Buffer.allocUnsafeSlow(bytes);
  const b = Buffer.allocUnsafeSlow(bytes);
  // Writing every page maps it to memory of its own: pages never written all read the one shared
  // zero page, which stays in cache, and would measure the cache instead.
  a.fill(FILL_BYTE);
  b.fill(FILL_BYTE);
  const compare = (): void => {
    // Equal buffers make memcmp read both to the end; checking the result also keeps the call live.
    if (Buffer.compare(a, b) !== 0) throw new Error('measureMemoryReadBandwidth: the filled buffers differ');
  };
  compare(); // warm-up: the first call pays for resolving memcmp and for a core clocking up from idle
  const rates: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    compare();
    const seconds = (performance.now() - start) / 1000;
    rates.push((2 * bytes) / seconds);
  }
  return rates;
}

export function measureMemoryReadBandwidth(opts: { bytes?: number; repeats?: number } = {}): MemoryBandwidth {
  const bytes = opts.bytes ?? DEFAULT_BYTES;
  const repeats = opts.repeats ?? DEFAULT_REPEATS;
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new Error(`measureMemoryReadBandwidth: bytes must be a positive integer, got ${bytes}`);
  if (!Number.isSafeInteger(repeats) || repeats < 1) throw new Error(`measureMemoryReadBandwidth: repeats must be a positive integer, got ${repeats}`);
  const rates = sample(bytes, repeats).sort((x, y) => x - y);
  return { bytes_per_s: median(rates), spread: { min: rates[0]!, max: rates[rates.length - 1]! }, buffer_bytes: bytes, repeats };
}
