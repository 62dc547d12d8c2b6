/**
 * Writes a report folder: index.html, summary.md, summary.json, whole or not at all
 * (src/output-folder.ts). A folder that holds only a previous report is replaced, so rerunning
 * `run` or `report` updates it; anything else needs --force.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReportData, ReportSummary } from './report-data.ts';
import { GENERATOR_META, renderHtml } from './render-html.ts';
import { renderMarkdown } from './render-markdown.ts';
import { holdsOnlyOutput, writeOutputFolder, type OutputSignature } from '../src/output-folder.ts';

export const REPORT_FILES = ['index.html', 'summary.md', 'summary.json'] as const;

/** The machine-readable summary, as `report --json` prints it. */
export function renderJson(summary: ReportSummary, indent?: number): string {
  return `${JSON.stringify(summary, null, indent)}\n`;
}

/** What tells a previous report from a folder that merely has files of its names: the page's generator meta in its head. */
const PREVIOUS_REPORT: OutputSignature = { files: REPORT_FILES, marker: { file: 'index.html', text: GENERATOR_META, headBytes: 400 } };

export function isPreviousReport(dir: string): boolean {
  return holdsOnlyOutput(dir, PREVIOUS_REPORT);
}

/** Writes the report into `dir` and returns the path of its index.html. */
export async function writeReport(dir: string, data: ReportData, opts: { force?: boolean } = {}): Promise<string> {
  const at = new Date().toISOString();
  await writeOutputFolder(dir, { force: opts.force, isPreviousOutput: isPreviousReport, what: 'report --out' }, async (tmp) => {
    writeFileSync(join(tmp, 'index.html'), await renderHtml(data, at));
    writeFileSync(join(tmp, 'summary.md'), renderMarkdown(data, at));
    writeFileSync(join(tmp, 'summary.json'), renderJson(data.summary, 2));
  });
  return join(dir, 'index.html');
}
