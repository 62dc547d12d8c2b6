/**
 * Writes a report folder: index.html, summary.md, summary.json, whole or not at all
 * (reports/output-folder.ts). A folder that holds only a previous report is replaced, so rerunning
 * `run` or `report` updates it; anything else needs --force.
 */
import { closeSync, existsSync, readdirSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReportData, ReportSummary } from './report-data.ts';
import { GENERATOR_META, renderHtml } from './render-html.ts';
import { renderMarkdown } from './render-markdown.ts';
import { writeOutputFolder } from '../src/output-folder.ts';
import { openUserFile } from '../src/user-file.ts';

/** A previous report's page: any size is fine, since only its head is read. */
const REPORT_PAGE = { what: 'previous report page', maxBytes: Number.MAX_SAFE_INTEGER };

export const REPORT_FILES = ['index.html', 'summary.md', 'summary.json'] as const;

/** The machine-readable summary, as `report --json` prints it. */
export function renderJson(summary: ReportSummary, indent?: number): string {
  return `${JSON.stringify(summary, null, indent)}\n`;
}

export function isPreviousReport(dir: string): boolean {
  const entries = readdirSync(dir);
  if (!entries.every((e) => (REPORT_FILES as readonly string[]).includes(e))) return false;
  const html = join(dir, 'index.html');
  if (!existsSync(html)) return false;
  // Only the head is read, through the checks every user file gets: a FIFO or a device there is refused.
  const { fd } = openUserFile(html, REPORT_PAGE);
  try {
    const head = Buffer.alloc(400);
    return head
      .subarray(0, readSync(fd, head, 0, head.length, 0))
      .toString('utf8')
      .includes(GENERATOR_META);
  } finally {
    closeSync(fd);
  }
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
