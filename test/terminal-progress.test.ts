/**
 * `run`'s progress: on a terminal one self-redrawing line that never exceeds the width, with an ETA
 * from the pace of the samples (not from the time since start, which includes loading the model),
 * shown only once a few samples over a few seconds give one; anywhere else the plain lines the
 * logs and the tests that watch them read. Time is a fake clock: nothing here sleeps.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ETA_MIN_MS,
  ETA_MIN_SAMPLES,
  PACE_WINDOW,
  Progress,
  etaSeconds,
  newPace,
  paceWith,
  plainLine,
  progressBar,
  samplesPerSecond,
  type Pace,
  type ProgressView,
  type SeriesCount,
} from '../harness/runner/progress.ts';

/** `count` samples of `workMs` each on `workers` workers that all began at `begin`: their ends, in order. */
function ends(begin: number, workMs: number, count: number, workers = 1): number[] {
  return Array.from({ length: count }, (_, i) => begin + (Math.floor(i / workers) + 1) * workMs);
}

function paceOf(times: readonly number[], workMs: number, startedAt = 0, from: Pace = newPace()): Pace {
  return times.reduce((p, t) => paceWith(p, t, workMs, startedAt), from);
}

const series = (done: number, total: number, label = 'flexidepth'): SeriesCount[] => [{ label, done, total, tokensPerSecond: 41.25 }];

function view(done: number, total: number, pace: Pace, now: number, startedAt = 0): ProgressView {
  return { series: series(done, total), elapsedMs: now - startedAt, pace, now };
}

const columns = (line: string): number => [...line].length;

describe('the ETA', () => {
  it('is not shown before a few samples, nor before a few seconds of work', () => {
    // A minute of startup, then a sample every 2 s: four samples are not enough.
    const slow = ends(60_000, 2000, ETA_MIN_SAMPLES - 1);
    expect(etaSeconds(view(slow.length, 100, paceOf(slow, 2000), slow.at(-1)!))).toBeNull();
    // Fast samples: many, but all within the first seconds.
    const fast = ends(60_000, 100, 40);
    expect(fast.at(-1)! - 60_000).toBeLessThan(ETA_MIN_MS);
    expect(etaSeconds(view(fast.length, 1000, paceOf(fast, 100), fast.at(-1)!))).toBeNull();
    expect(plainLine(view(fast.length, 1000, paceOf(fast, 100), fast.at(-1)!))).not.toContain('ETA');
  });

  it('is right from the first samples after a long startup: the startup is not counted', () => {
    const times = ends(60_000, 2000, ETA_MIN_SAMPLES);
    const now = times.at(-1)!;
    const eta = etaSeconds(view(times.length, 100, paceOf(times, 2000), now));
    // 95 samples left at 2 s each; the time since start would have said 95 × 70 s / 5.
    expect(eta).toBeCloseTo(190, 6);
    expect(plainLine(view(times.length, 100, paceOf(times, 2000), now))).toMatch(/, ETA 3m10s$/);
  });

  it('is right while a pool of workers finishes its first round together', () => {
    // Four workers began together after 30 s of startup, 8 s a sample: 0.5 samples/s.
    for (const count of [8, 12, 16, 40]) {
      const times = ends(30_000, 8000, count, 4);
      const pace = paceOf(times, 8000);
      expect(samplesPerSecond(pace, times.at(-1)!)).toBeCloseTo(0.5, 6);
      expect(etaSeconds(view(count, 200, pace, times.at(-1)!))).toBeCloseTo((200 - count) * 2, 6);
    }
  });

  it('follows the recent pace, not the average since the start', () => {
    const first = ends(0, 500, 100);
    const slower = ends(first.at(-1)!, 2000, PACE_WINDOW + 1);
    const pace = paceOf(slower, 2000, 0, paceOf(first, 500));
    expect(pace.count).toBe(100 + PACE_WINDOW + 1);
    expect(pace.ends).toHaveLength(PACE_WINDOW);
    expect(samplesPerSecond(pace, slower.at(-1)!)).toBeCloseTo(0.5, 6);
  });

  it('falls as no sample finishes, and the work never began before the invocation', () => {
    const times = ends(0, 1000, 10);
    const pace = paceOf(times, 1000);
    expect(samplesPerSecond(pace, 10_000)).toBeCloseTo(1, 6);
    expect(samplesPerSecond(pace, 20_000)).toBeCloseTo(0.5, 6);
    // A first sample that says it worked longer than the invocation has run.
    expect(paceWith(newPace(), 500, 10_000, 200).begun).toBe(200);
  });
});

describe('the bar on a terminal', () => {
  const times = ends(20_000, 1000, 30);
  const pace = paceOf(times, 1000);
  const now = times.at(-1)!;
  const many: SeriesCount[] = [
    { label: 'flexidepth@0.3 int8', done: 10, total: 40, tokensPerSecond: 41.25 },
    { label: 'flexidepth@0.5 int8', done: 10, total: 40, tokensPerSecond: 40 },
    { label: 'full int8', done: 10, total: 40, tokensPerSecond: null },
  ];
  const wide: ProgressView = { series: many, elapsedMs: now, pace, now };

  it('fits every width, one column short of it, keeping the counts and the ETA', () => {
    for (const width of [20, 40, 60, 80, 120, 160, 300]) {
      const line = progressBar(wide, width);
      expect(columns(line), `${width}: ${line}`).toBeLessThanOrEqual(width - 1);
      expect(line).not.toMatch(/[\r\n]/);
      if (width >= 40) expect(line, `${width}`).toMatch(/^run: .*30\/120 25%.*ETA 1m30s/);
    }
  });

  it('shows the series as the plain lines name them when there is room', () => {
    const line = progressBar(wide, 200);
    expect(line).toMatch(/^run: \[#+-+\] 30\/120 25%, 1\.0 samples\/s, ETA 1m30s, 50s elapsed \| /);
    expect(line).toContain('flexidepth@0.3 int8 10/40 (41.3 tok/s), flexidepth@0.5 int8 10/40 (40.0 tok/s), full int8 10/40 (- tok/s)');
    // Short of room the series give way first: cut at the end, then left out.
    expect(progressBar(wide, 100)).toMatch(/^run: \[#+-+\] 30\/120 25%, 1\.0 samples\/s, ETA 1m30s, 50s elapsed \| flexidepth@0\.3 int8 .*\u2026$/);
    expect(progressBar(wide, 80)).toMatch(/^run: \[#+-+\] 30\/120 25%, 1\.0 samples\/s, ETA 1m30s, 50s elapsed$/);
    // Then the elapsed time, the bar's length, the bar, the rate; the counts and the ETA stay.
    expect(progressBar(wide, 60)).toMatch(/^run: \[#+-+\] 30\/120 25%, 1\.0 samples\/s, ETA 1m30s$/);
    expect(progressBar(wide, 44)).toBe('run: 30/120 25%, 1.0 samples/s, ETA 1m30s');
    expect(progressBar(wide, 30)).toBe('run: 30/120 25%, ETA 1m30s');
  });

  it('has no ETA and no rate until the pace is known, and none left at the end', () => {
    const early = paceOf(ends(20_000, 1000, 2), 1000);
    expect(progressBar({ series: series(2, 100), elapsedMs: 22_000, pace: early, now: 22_000 }, 80)).toMatch(
      /^run: \[-+\] 2\/100 2%, 22s elapsed \| flexidepth 2\/100 \(41\.3 tok\/s\)$/,
    );
    const done = progressBar({ series: series(100, 100), elapsedMs: now, pace, now }, 80);
    expect(done).toMatch(/^run: \[#+\] 100\/100 100%, 1\.0 samples\/s, 50s elapsed/);
    expect(done).not.toContain('ETA');
    const slow = paceOf(ends(0, 4000, 10), 4000);
    expect(progressBar({ series: series(10, 20), elapsedMs: 40_000, pace: slow, now: 40_000 }, 80)).toContain('4.0 s/sample, ETA 40s');
  });
});

/** A stream that keeps what is written, a terminal of `columns` or not. */
function capture(tty: boolean, cols?: number): { out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }; text: () => string } {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { out: Object.assign(out, { isTTY: tty, columns: cols }), text: () => chunks.join('') };
}

const SWEEP = [
  { variant: 'flexidepth', threshold: 0.3, precision: 'int8' },
  { variant: 'flexidepth', threshold: 0.5, precision: 'int8' },
  { variant: 'full', threshold: 0.5, precision: 'int8' },
] as const;

describe('Progress', () => {
  afterEach(() => vi.unstubAllEnvs());

  function driven(tty: boolean, everyMs: number | undefined, cols?: number): { progress: Progress; text: () => string; at: (t: number) => void } {
    let t = 0;
    const { out, text } = capture(tty, cols);
    const progress = new Progress(out, everyMs, () => t);
    for (const s of SWEEP) progress.addRun(s, 4, 1);
    return { progress, text, at: (ms) => (t = ms) };
  }

  it('off a terminal: the plain lines, each whole, as before', () => {
    const { progress, text, at } = driven(false, 0);
    at(30_000);
    progress.sampleDone(SWEEP[0], 20, 1000);
    at(31_000);
    progress.sampleDone(SWEEP[2], 10, 500);
    progress.print();
    const lines = text().split('\n');
    expect(lines.at(-1)).toBe('');
    expect(text()).not.toContain('\r');
    expect(lines.slice(0, -1)).toEqual([
      'run: flexidepth@0.3 int8 2/4 (20.0 tok/s), flexidepth@0.5 int8 1/4 (- tok/s), full int8 1/4 (- tok/s), elapsed 30s',
      'run: flexidepth@0.3 int8 2/4 (20.0 tok/s), flexidepth@0.5 int8 1/4 (- tok/s), full int8 2/4 (20.0 tok/s), elapsed 31s',
      'run: flexidepth@0.3 int8 2/4 (20.0 tok/s), flexidepth@0.5 int8 1/4 (- tok/s), full int8 2/4 (20.0 tok/s), elapsed 31s',
    ]);
    // What the tests that watch a run's stderr look for.
    expect(text()).toMatch(/^run: .*\d+\/\d+/m);
  });

  it('off a terminal: FLEXIBENCH_PROGRESS_MS spaces the lines, a few seconds without it', () => {
    vi.stubEnv('FLEXIBENCH_PROGRESS_MS', '10000');
    const env = driven(false, undefined);
    vi.stubEnv('FLEXIBENCH_PROGRESS_MS', undefined as unknown as string);
    const plain = driven(false, undefined);
    for (const { progress, at } of [env, plain])
      for (const t of [1000, 2000, 4000, 9000, 12_000]) {
        at(t);
        progress.sampleDone(SWEEP[1], 1, 1);
      }
    expect(
      env
        .text()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => /elapsed (\d+s)/.exec(l)?.[1]),
    ).toEqual(['1s', '12s']);
    expect(
      plain
        .text()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => /elapsed (\d+s)/.exec(l)?.[1]),
    ).toEqual(['1s', '4s', '9s', '12s']);
  });

  it('on a terminal: one line redrawn in place, ended when the run ends', () => {
    const { progress, text, at } = driven(true, 0, 100);
    for (const [i, t] of [1000, 2000, 3000].entries()) {
      at(t);
      progress.sampleDone(SWEEP[i % 3]!, 10, 1000);
    }
    expect(text()).not.toContain('\n');
    const frames = text()
      .split('\r')
      .filter((f) => f !== '');
    expect(frames).toHaveLength(3);
    for (const f of frames) {
      expect(f.endsWith('\x1b[K')).toBe(true);
      expect(columns(f.replace('\x1b[K', ''))).toBeLessThanOrEqual(99);
    }
    expect(frames.at(-1)).toMatch(/^run: \[#+-*\] 6\/12 50%, 3s elapsed \| flexidepth@0\.3 int8 2\/4/);
    progress.print();
    expect(text().endsWith('\x1b[K\n')).toBe(true);
    expect(text().split('\n')).toHaveLength(2);
  });

  it('on a terminal: redraws at most every FLEXIBENCH_PROGRESS_MS, a fraction of a second without it', () => {
    vi.stubEnv('FLEXIBENCH_PROGRESS_MS', '1000');
    const env = driven(true, undefined, 80);
    vi.stubEnv('FLEXIBENCH_PROGRESS_MS', undefined as unknown as string);
    const plain = driven(true, undefined, 80);
    for (const { progress, at } of [env, plain])
      for (const t of [100, 200, 400, 700, 1200]) {
        at(t);
        progress.sampleDone(SWEEP[0], 1, 1);
      }
    const frames = (d: { text: () => string }): number =>
      d
        .text()
        .split('\r')
        .filter((f) => f !== '').length;
    expect(frames(env)).toBe(2);
    expect(frames(plain)).toBe(4);
  });

  it('on a terminal: a line logged while the bar shows replaces it, and the bar comes back below', () => {
    const { progress, text, at } = driven(true, 0, 80);
    at(1000);
    progress.sampleDone(SWEEP[0], 10, 1000);
    progress.log('run: interrupted, finishing the samples in flight\n');
    const afterLog = text().slice(text().indexOf('\r\x1b[Krun: interrupted'));
    expect(afterLog).toMatch(/^\r\x1b\[Krun: interrupted, finishing the samples in flight\n\rrun: \[/);
  });

  it('treats a terminal that cannot clear a line (TERM=dumb) as a log', () => {
    vi.stubEnv('TERM', 'dumb');
    const { progress, text, at } = driven(true, 0, 80);
    at(1000);
    progress.sampleDone(SWEEP[0], 10, 1000);
    expect(text()).toBe('run: flexidepth@0.3 int8 2/4 (10.0 tok/s), flexidepth@0.5 int8 1/4 (- tok/s), full int8 1/4 (- tok/s), elapsed 1s\n');
  });
});
