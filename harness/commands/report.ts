/**
 * `flexibench report [--db FILE]... [--out DIR] [--json]`: summarizes one or
 * more study databases. Without --json a readable table goes to stdout; `--json` prints the summary
 * (docs/design.md) as one JSON document instead. `--out DIR` writes the report folder (index.html,
 * summary.md, summary.json). Databases are opened read-only: a report never changes a study.
 */
import { escapeControlChars, escapeControlCharsInJson } from '../../src/control-chars.ts';
import { UserError } from '../../src/errors.ts';
import { refuseFolderOverInputs, studyFiles } from '../../src/output-paths.ts';
import { DEFAULT_DB } from '../../src/store/study-db.ts';
import { loadReport } from '../../reports/report-data.ts';
import { renderTerminal, terminalWidth } from '../../reports/render-terminal.ts';
import { renderJson, writeReport } from '../../reports/write-report.ts';
import { defineCommand, flag, integer, text, texts, type OptionValues } from '../args.ts';
import { BOOTSTRAP_SAMPLES, SEED } from '../option-ranges.ts';

const OPTIONS = {
  db: texts('FILE', 'a study database; repeat for several studies side by side', { default: [DEFAULT_DB], defaultText: DEFAULT_DB }),
  out: text('DIR', 'write DIR/index.html, DIR/summary.md, DIR/summary.json'),
  json: flag('print the summary as one JSON document on stdout'),
  force: flag('replace DIR even when it holds something other than a previous report'),
  bootstrapSamples: integer('N', 'bootstrap replicates for the intervals', { ...BOOTSTRAP_SAMPLES, default: 10_000 }),
  seed: integer('S', 'bootstrap seed', { ...SEED, default: 0 }),
};

async function report(o: OptionValues<typeof OPTIONS>): Promise<void> {
  if (new Set(o.db).size !== o.db.length) throw new UserError('report: the same --db is given twice');
  if (o.out !== undefined)
    refuseFolderOverInputs(
      { path: o.out, option: 'report --out' },
      o.db.flatMap((db) => studyFiles(db, '--db')),
    );
  const data = await loadReport(o.db, { samples: o.bootstrapSamples, seed: o.seed });
  if (o.out !== undefined) {
    const index = await writeReport(o.out, data, { force: o.force });
    process.stderr.write(`report: ${escapeControlChars(index)}\n`);
  }
  process.stdout.write(o.json ? escapeControlCharsInJson(renderJson(data.summary)) : renderTerminal(data.summary, { width: terminalWidth(process.stdout) }));
}

export const command = defineCommand({
  name: 'report',
  description:
    'Summarize study databases: a table on stdout, or with --json the summary (docs/design.md) as one JSON document; --out also writes the report folder.',
  options: OPTIONS,
  action: report,
});
