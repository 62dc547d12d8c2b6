/**
 * Store write speed, as the runner writes: one transaction per finished sample, here 600 tokens with
 * 16 routed layers each. Run with `npm run bench`. A speed is measured here, not asserted in a unit
 * test, where a shared machine's load would decide pass or fail.
 */
import { join } from 'node:path';
import { bench, describe } from 'vitest';
import { StudyDb } from '../src/store/study-db.ts';
import { identity, metadata, randomTokens, sample, tempDir } from './store-fixtures.ts';

// Opened at the top: vitest bench does not run beforeAll hooks before a bench.
const db = await StudyDb.open(join(tempDir(), 'bench.duckdb'));
const { runId } = await db.ensureRun(identity(), metadata());

describe('StudyDb.writeSample', () => {
  const tokens = randomTokens(450, 150, 16);
  let written = 0;
  bench(
    'one sample of 600 tokens',
    async () => {
      const i = written++;
      await db.writeSample(runId, sample(`s${i}`, { docIndex: i, promptTokens: 450, generatedTokens: 150 }), tokens);
    },
    { teardown: async (_task, mode) => (mode === 'run' ? db.close() : undefined) },
  );
});
