/**
 * `flexibench export-patterns --db FILE --out DIR`: writes a study's
 * per-token layer allocations as a Hugging Face style dataset (reports/export-patterns.ts). The
 * study is opened read-only; DIR is written whole or not at all, replacing a previous export there
 * (anything else in DIR needs --force), and never where it would hold the study.
 */
import { exportPatterns, type SuiteFlags } from '../../reports/export-patterns.ts';
import { UserError } from '../../src/errors.ts';
import { refuseFolderOverInputs, studyFiles } from '../../src/output-paths.ts';
import { loadTaskSpec } from '../../tasks/suites/spec.ts';
import { commaList, defineCommand, flag, required, text, type OptionValues } from '../args.ts';
import { suiteConfigHash } from '../runner/plan.ts';
import { applyOverrides } from '../runner/suite-overrides.ts';

const OPTIONS = {
  db: required(text('FILE', 'the study database')),
  out: required(text('DIR', 'the dataset folder to write: data/*.parquet, schema/*.json, README.md')),
  suites: commaList('LIST', 'only these suites, comma-separated', 'suite name', { defaultText: 'every suite in the study' }),
  force: flag('replace DIR even when it holds something other than a previous export'),
};

/**
 * The config hash `run --suites FILE` with these flags gives (planSuite's): the card
 * names a run's suite by the repository's YAML only when that YAML makes the run's very config.
 */
function fileConfigHash(file: string, flags: SuiteFlags): string | null {
  try {
    return suiteConfigHash(applyOverrides(loadTaskSpec(file), flags));
  } catch (err) {
    // A YAML that no longer loads (another revision's, say) cannot be the run's.
    if (err instanceof UserError) return null;
    throw err;
  }
}

async function exportCommand(o: OptionValues<typeof OPTIONS>): Promise<void> {
  refuseFolderOverInputs({ path: o.out, option: 'export-patterns --out' }, studyFiles(o.db, '--db'));
  const result = await exportPatterns({
    dbPath: o.db,
    outDir: o.out,
    suites: o.suites ?? null,
    force: o.force,
    suiteConfigHash: fileConfigHash,
  });
  const files = result.files.map((f) => `${f.path} (${f.bytes} bytes)`).join(', ');
  process.stderr.write(`export-patterns: wrote ${o.out}: ${result.tokens} token rows and ${result.samples} sample rows from ${result.runs} runs; ${files}\n`);
}

export const command = defineCommand({
  name: 'export-patterns',
  description: "Write a study's per-token layer allocations as a Hugging Face style dataset with its card.",
  options: OPTIONS,
  action: exportCommand,
});
