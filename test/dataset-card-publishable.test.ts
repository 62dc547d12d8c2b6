// The dataset card is published as it is (issue 29): it names no path of the machine that exported
// it, and its commands run from a fresh clone of flexibench: a checkpoint the repository holds by its
// folder there, any other by a placeholder and its content hash, the study and dataset by neutral names.
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { stableJsonHash } from '../src/canonical-json.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { loadTaskSpec } from '../tasks/suites/spec.ts';
import { specContent } from '../harness/runner/plan.ts';
import { PACKAGE_ROOT, packagePath } from '../src/package-root.ts';
import type { StaticComparator } from '../src/store/run-comparator.ts';
import { StudyDb } from '../src/store/study-db.ts';
import { flexibench } from './cli.ts';
import { identity, metadata, sample, tempDir, tokensFromMasks } from './store-fixtures.ts';

const REFERENCE = packagePath('models', 'flexidepth-ref');

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/** Every row of a Parquet file as text, so a path stored in any column shows up. */
async function parquetText(file: string): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    return JSON.stringify((await conn.runAndReadAll(`SELECT * FROM read_parquet('${file.replaceAll("'", "''")}')`)).getRowObjectsJson());
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

const STATIC: StaticComparator = {
  kind: 'static',
  matched_threshold: 0.5,
  flexidepth_skips_mean: null,
  removed_layers: [4, 5],
  block_influence: [
    { layer: 3, value: 0.3 },
    { layer: 4, value: 0.2 },
    { layer: 5, value: 0.1 },
  ],
  calibration: { source: 'wikitext', windows: 4, tokens: 512 },
};

describe('a dataset card that can be published as it is', () => {
  let dir: string;
  let out: string;
  let card: string;
  let referenceHash: string;
  const external = 'e0c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f';

  beforeAll(async () => {
    referenceHash = loadCheckpoint(REFERENCE).contentHash;
    dir = tempDir('flexibench-card-publishable-');
    const study = join(dir, 'study.duckdb');
    const db = await StudyDb.open(study);
    // Stored as `run` stores tasks/copy.yaml: the card names the suite as the repository's.
    const copy = specContent(loadTaskSpec('copy'));
    const suiteConfigHash = stableJsonHash(copy);
    const runs: [Parameters<typeof identity>[0], Parameters<typeof metadata>[0]][] = [
      // `run`'s default model, stored as the absolute path it is.
      [
        { modelHash: referenceHash, suite: 'copy', suiteConfigHash, limit: 3 },
        { modelDir: REFERENCE, suiteConfig: copy },
      ],
      // The same checkpoint, run from a clone on another machine, with --max-length and int8 weights.
      [
        {
          modelHash: referenceHash,
          suite: 'copy',
          suiteConfigHash,
          variant: 'full',
          generation: { max_new_tokens: 8, max_length: 64 },
          precision: 'int8',
          block_size: 64,
          seed: 7,
        },
        { modelDir: '/home/someone/src/flexibench/models/flexidepth-ref/', suiteConfig: copy, routingLayers: [] },
      ],
      // A checkpoint outside the repository, in the folder the study was made in.
      [
        { modelHash: external, suite: 'copy', suiteConfigHash, threshold: 0.3 },
        { modelDir: join(dir, 'checkpoints', 'my-model'), suiteConfig: copy },
      ],
      // The repository's folder, but another checkpoint than the one it holds now.
      [
        { modelHash: 'f'.repeat(64), suite: 'copy', suiteConfigHash },
        { modelDir: REFERENCE, suiteConfig: copy },
      ],
      // A static comparator of K layers given by --static-layers.
      [
        { modelHash: referenceHash, suite: 'copy', suiteConfigHash, variant: 'static', comparator: { removed_layers: [4, 5] } },
        { modelDir: REFERENCE, suiteConfig: copy, comparator: STATIC },
      ],
    ];
    for (const [id, meta] of runs) {
      const { runId } = await db.ensureRun(identity(id), metadata(meta));
      await db.writeSample(runId, sample('p1', { metrics: { exact_match: 1 } }), tokensFromMasks([[1, 0, 0]], [[0, 1, 0]]));
      await db.finishRun(runId);
    }
    await db.close();
    out = join(dir, 'patterns');
    const r = flexibench(['export-patterns', '--db', study, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    card = readFileSync(join(out, 'README.md'), 'utf8');
  });

  it('no file the export writes names the temporary folder, the home folder or the repository', async () => {
    const paths = [dir, PACKAGE_ROOT, '/home/someone', ...(homedir().length > 1 ? [homedir()] : [])];
    expect(filesUnder(out)).toEqual(['README.md', 'data/samples.parquet', 'data/tokens.parquet', 'schema/samples.schema.json', 'schema/tokens.schema.json']);
    for (const file of filesUnder(out)) {
      const text = file.endsWith('.parquet') ? await parquetText(join(out, file)) : readFileSync(join(out, file), 'utf8');
      for (const path of paths) expect(text.includes(path), `${file} holds ${path}`).toBe(false);
    }
  });

  it("names the reference model by its folder in the repository, which holds the card's checkpoint", () => {
    expect(card).toContain('\nflexibench run --model models/flexidepth-ref --suites copy --variants flexidepth --limit 3 --seed 0 --threshold 0.5\n');
    // A study from another machine's clone: its folder in this repository, found by name and hash.
    expect(card).toContain(
      '\nflexibench run --model models/flexidepth-ref --suites copy --variants full --precision int8 --block-size 64 --max-length 64 --seed 7 --threshold 0.5\n',
    );
    expect(card).toContain(`| \`${referenceHash}\` | \`models/flexidepth-ref\` | 6 |`);
    expect(loadCheckpoint(join(PACKAGE_ROOT, 'models/flexidepth-ref')).contentHash).toBe(referenceHash);
  });

  it('names any other checkpoint by a placeholder and its content hash', () => {
    expect(card).toContain(
      "\nflexibench run --model '<folder of the checkpoint with content hash e0c1a2b3c4d5…>' --suites copy --variants flexidepth --seed 0 --threshold 0.3\n",
    );
    expect(card).toContain(`| \`${external}\` | \`<folder of the checkpoint with content hash e0c1a2b3c4d5…>\` |`);
    // The repository's folder holds another checkpoint now: naming it would reproduce another run.
    expect(card).toContain("\nflexibench run --model '<folder of the checkpoint with content hash ffffffffffff…>' --suites copy");
    // The model's name in the title is the last component of its folder only.
    const title = /^# FlexiDepth layer patterns: (.*)$/m.exec(card)?.[1];
    expect(title?.split(', ').sort()).toEqual(['flexidepth-ref', 'my-model']);
  });

  it('keeps every part of the identity the command line sets: --static-layers of a static run', () => {
    expect(card).toContain('\nflexibench run --model models/flexidepth-ref --suites copy --variants static --static-layers 2 --seed 0 --threshold 0.5\n');
  });

  it('the export command reads the study the run commands write, into a plain folder name', () => {
    expect(card).toContain('\n```bash\nflexibench export-patterns --db results/flexibench.duckdb --out patterns\n```\n');
    expect(card).toContain('The runs write to `results/flexibench.duckdb`, the study the export command reads.');
  });

  it('is the same card whichever paths it was exported from and to', () => {
    const again = join(dir, 'elsewhere', 'other-name');
    expect(flexibench(['export-patterns', '--db', join(dir, 'study.duckdb'), '--out', again]).status).toBe(0);
    expect(readFileSync(join(again, 'README.md'), 'utf8')).toBe(card);
  });
});
