/** Small HTML-building helpers for the report page: escaping and tables. */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/**
 * A table of already-escaped cells; `numeric` columns are right-aligned. It sits in a box that
 * scrolls sideways on its own, so a wide table never makes the whole page scroll.
 */
export function htmlTable(header: string[], rows: string[][], numeric: ReadonlySet<number> = new Set()): string {
  const cell = (tag: string, c: string, i: number): string => `<${tag}${numeric.has(i) ? ' class="num"' : ''}>${c}</${tag}>`;
  const head = `<tr>${header.map((h, i) => cell('th', escapeHtml(h), i)).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${r.map((c, i) => cell('td', c, i)).join('')}</tr>`).join('\n');
  return `<div class="wide"><table>\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody>\n</table></div>`;
}
