/**
 * Markdown for summary.md and the dataset card, with text from data or paths (suite names, study
 * file names, model folders, metric names, stored strings) escaped for where it goes. Dataset hubs
 * render a card with HTML allowed, so such text must never become HTML, a link, an image, a code
 * span, a table cell boundary or the end of a code block. The rules are CommonMark's and GFM's
 * tables', as markdown-it and the Hub's renderer implement them.
 *
 * markdownText and markdownCode give one line, to be placed inside a line (after `# `, `- `, in a
 * table cell), never at its start; markdownTable takes such cells; markdownFence takes whole lines.
 */
import { escapeControlChars } from '../src/control-chars.ts';

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** `_` between two letters or digits cannot start or end emphasis (CommonMark's intraword rule): snake_case stays as typed. */
const isWordChar = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{N}]/u.test(c);

/**
 * Plain text: HTML's `& < >` as entities (no tag, no autolink, no entity of its own), and the
 * punctuation that makes links, images, code spans, emphasis and heading ends backslash-escaped.
 * Control characters, line breaks included, are shown as escapes (src/control-chars.ts), so the
 * text stays on its line and cannot start a block.
 */
export function markdownText(text: string): string {
  return escapeControlChars(text).replace(/[\\`*[\]~#_&<>]/g, (c, at: number, all: string) => {
    if (c in ENTITIES) return ENTITIES[c] as string;
    if (c === '_' && isWordChar(all[at - 1]) && isWordChar(all[at + 1])) return c;
    return `\\${c}`;
  });
}

// A reduce, not Math.max(...runs): a long text's runs would overflow the call stack as arguments.
const longestBacktickRun = (text: string): number => (text.match(/`+/g) ?? []).reduce((most, run) => Math.max(most, run.length), 0);

/**
 * An inline code span: the delimiter is one backtick longer than the longest run inside, and a
 * content that starts or ends with a backtick or a space is padded with a space on both sides,
 * which CommonMark strips again. Control characters are shown as escapes, so it stays on its line.
 */
export function markdownCode(text: string): string {
  const shown = escapeControlChars(text);
  if (shown === '') return '';
  const fence = '`'.repeat(longestBacktickRun(shown) + 1);
  const pad = /^[` ]|[` ]$/.test(shown) && !/^ +$/.test(shown) ? ' ' : '';
  return `${fence}${pad}${shown}${pad}${fence}`;
}

/**
 * A GFM table of inline Markdown cells (markdownText, markdownCode, or literal text of ours). The
 * table splits a row at every `|` not preceded by a backslash and removes that backslash before
 * the cell is parsed, inside code spans too, so every `|` of a cell becomes `\|`: `a\|b` given as
 * text (escaped to `a\\|b`) comes out as typed.
 */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cell = (c: string): string => c.replaceAll('|', '\\|').replace(/\r\n?|\n/g, ' ');
  const line = (cells: readonly string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), `|${header.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}

/**
 * A fenced code block: the fence is longer than any backtick run in the content (three at least),
 * so no line of the content can close it. `info` is the language, e.g. `bash`.
 */
export function markdownFence(info: string, content: string): string {
  const fence = '`'.repeat(Math.max(3, longestBacktickRun(content) + 1));
  return `${fence}${info}\n${content}\n${fence}`;
}
