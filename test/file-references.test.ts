/**
 * Every repository file that a comment or a Markdown page names must exist, so that a reader who
 * follows a reference finds the file, and a rename or deletion that leaves a reference behind fails.
 *
 * Read: the files git knows (tracked, or new and not ignored), outside dist/ and node_modules/: the
 * comments of .ts/.js/.cjs/.mjs files, the `#` comments and triple-quoted strings (docstrings) of
 * .py files, and Markdown whole.
 *
 * A reference is a token of path characters (letters, digits, `_ . - @ /`) ending in one of
 * EXTENSIONS, not glued to a path character or a placeholder before it (so absolute paths and
 * `{name}.yaml`, `<suite>.yaml`, `*.ts`, `$DIR/x.json` are none). It resolves
 *   - with a `/`: from the repository root or from the referring file's folder (`./`, `../`: from the
 *     file's folder only), staying inside the repository;
 *   - as a bare file name (`float16.ts`), for code and Markdown only (BARE_EXTENSIONS): to a file of
 *     that name anywhere in the repository.
 * A `.js` name also resolves to its `.ts` source (ESM imports and dist/ name the sources so).
 * Not references (PLACEHOLDER): URLs and host-led paths (`github.com/...`), paths through a
 * capitalised placeholder folder (`DIR/`, `RUN/`, `MODEL/`) or an ellipsis (`.../x.yaml`), file names
 * in capitals other than Markdown (`tasks/NAME.yaml`; `README.md` is a real name), and one-letter
 * example names (`tasks/x.yaml`, `a/b/c.json`). Everything else that does not resolve must be one of
 * EXCEPTIONS, each with its reason.
 *
 * Also: a section cited as `docs/<page>.md, "Section"` must be a heading of that page.
 * On failure each test lists `file:line: missing path` (or the section), one per line.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const EXTENSIONS = ['ts', 'js', 'cjs', 'mjs', 'py', 'md', 'yaml', 'yml', 'json', 'sh'];
/** The extensions a bare file name is checked for: data files (.json, .yaml) are named bare as parts of a checkpoint or an output. */
const BARE_EXTENSIONS = ['ts', 'js', 'cjs', 'mjs', 'py', 'md', 'sh'];

/**
 * Paths outside the repository by design (generated or ignored), each with why: `pattern` is matched
 * against the token as written, `file` (when given) against the referring file.
 */
const EXCEPTIONS: readonly { pattern: RegExp; file?: RegExp; reason: string }[] = [
  { pattern: /^(\.\/)?dist\//, reason: 'build output (npm run build), ignored by git' },
  { pattern: /^(\.\/)?results\//, reason: 'study output, ignored by git' },
  { pattern: /^(\.\/)?\.cache\//, reason: 'caches (graphs, lint, imported models), ignored by git' },
  { pattern: /^(\.\/)?node_modules\//, reason: 'installed packages' },
  { pattern: /(^|\/)path\/to\//, reason: "a user's example path" },
  { pattern: /^patterns\//, reason: "the folder README's export-patterns example writes (--out patterns)" },
  { pattern: /^summary\.md$/, reason: "a report folder's Markdown page (reports/write-report.ts)" },
  {
    pattern: /^scratch\//,
    file: /^docs\/performance-history\.md$/,
    reason: 'the dated history names the uncommitted scripts of its day (scratch/ is ignored by git)',
  },
];

/** Not a reference to a file of this repository (see the header). */
const PLACEHOLDER: readonly RegExp[] = [
  /^[a-z0-9-]+(\.[a-z0-9-]+)+\//i, // a host: github.com/..., hf.co/...
  /(^|\/)[A-Z][A-Z0-9_]*\//, // a placeholder folder: DIR/, RUN/, MODEL/
  /\.\.\./, // elided: .../capitals.yaml
  /(^|\/)[a-zA-Z]\.[a-z]+$/, // a one-letter example name: x.yaml, a/b/c.json, commands/X.ts
  /(^|\/)[A-Z][A-Z0-9_]*\.(?!md$)[a-z]+$/, // a file name in capitals, but for Markdown (README.md is real): NAME.yaml, SUMMARY.json
];

export interface Reference {
  file: string;
  line: number;
  path: string;
}

const TOKEN = new RegExp(String.raw`(?<![\w./@\-~$}>*\\])((?:\.{1,2}/)*[\w@.\-]+(?:/[\w@.\-]+)*\.(?:${EXTENSIONS.join('|')}))(?![\w/\-]|\.\w)`, 'g');
const URL = /\b[a-z][a-z0-9+.-]*:\/\/\S+/gi;

interface Piece {
  start: number;
  text: string;
}

/** The comments of a TypeScript or JavaScript file, from its syntax tree (so strings and regexes are not read as comments). */
function scriptComments(file: string, text: string): Piece[] {
  const kind = file.endsWith('.ts') ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, kind);
  const seen = new Map<number, number>();
  const collect = (ranges: ts.CommentRange[] | undefined): void => {
    for (const r of ranges ?? []) seen.set(r.pos, r.end);
  };
  const visit = (node: ts.Node): void => {
    collect(ts.getLeadingCommentRanges(text, node.pos));
    collect(ts.getTrailingCommentRanges(text, node.end));
    for (const child of node.getChildren(source)) visit(child);
  };
  visit(source);
  return [...seen].map(([start, end]) => ({ start, text: text.slice(start, end) }));
}

/** The `#` comments and triple-quoted strings of a Python file. */
function pythonComments(text: string): Piece[] {
  const out: Piece[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '#') {
      const end = text.indexOf('\n', i);
      const stop = end < 0 ? text.length : end;
      out.push({ start: i, text: text.slice(i, stop) });
      i = stop;
    } else if (c === '"' || c === "'") {
      const triple = text.startsWith(c.repeat(3), i);
      const quote = triple ? c.repeat(3) : c;
      let j = i + quote.length;
      while (j < text.length && !text.startsWith(quote, j) && (triple || text[j] !== '\n')) j += text[j] === '\\' ? 2 : 1;
      if (triple) out.push({ start: i, text: text.slice(i, j) });
      i = j + quote.length;
    } else i++;
  }
  return out;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let k = 0; k < offset; k++) if (text.charCodeAt(k) === 10) line++;
  return line;
}

/** The file references that `file` (a path from the root) makes in its comments, or anywhere when Markdown. */
export function referencesIn(file: string, text: string): Reference[] {
  const pieces = file.endsWith('.md') ? [{ start: 0, text }] : file.endsWith('.py') ? pythonComments(text) : scriptComments(file, text);
  const out: Reference[] = [];
  for (const piece of pieces) {
    const body = piece.text.replace(URL, (url) => ' '.repeat(url.length));
    for (const m of body.matchAll(TOKEN)) {
      const path = m[1]!;
      if (PLACEHOLDER.some((p) => p.test(path))) continue;
      if (!path.includes('/') && !BARE_EXTENSIONS.includes(path.slice(path.lastIndexOf('.') + 1))) continue;
      out.push({ file, line: lineAt(text, piece.start + m.index), path });
    }
  }
  return out;
}

const ROOT = join(import.meta.dirname, '..');

/** The files git knows (tracked, or new and not ignored) that exist, as paths from the root. */
function knownFiles(): string[] {
  return execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((f) => f !== '' && existsSync(join(ROOT, f)));
}

/** A `.js` name also names its TypeScript source. */
const spellings = (path: string): string[] => (path.endsWith('.js') ? [path, path.replace(/\.js$/, '.ts')] : [path]);

/** Whether `ref` names a file of the repository at `root` (or an exception); `names`: the file names anywhere in it. */
export function resolves(ref: Pick<Reference, 'file' | 'path'>, names: ReadonlySet<string>, root: string): boolean {
  if (EXCEPTIONS.some((e) => e.pattern.test(ref.path) && (e.file === undefined || e.file.test(ref.file)))) return true;
  if (!ref.path.includes('/')) return spellings(ref.path).some((name) => names.has(name));
  const here = posix.dirname(ref.file);
  const relative = ref.path.startsWith('./') || ref.path.startsWith('../');
  const candidates = relative ? [posix.join(here, ref.path)] : [posix.normalize(ref.path), posix.join(here, ref.path)];
  return candidates.flatMap(spellings).some((c) => !c.startsWith('../') && existsSync(join(root, c)));
}

/** `docs/<page>.md, "Section"` (the comma optional; the name may run on to the next comment line): a section cited by its heading. */
const SECTION_CITATION = /(?<!["\w/])(docs\/[\w-]+\.md),? ?"([^"]{1,100})"/g;

/** The sections that `text` cites in a page of docs/, with their lines. */
export function sectionCitations(file: string, text: string): { file: string; line: number; doc: string; section: string }[] {
  return [...text.matchAll(SECTION_CITATION)].map((m) => ({
    file,
    line: lineAt(text, m.index),
    doc: m[1]!,
    section: m[2]!.replace(/\s*\n\s*(?:\*|\/\/|#)?\s*/g, ' ').trim(),
  }));
}

describe('file references in comments and Markdown', () => {
  const files = knownFiles();
  const names = new Set(files.map((f) => posix.basename(f)));
  const scanned = files.filter((f) => /\.(ts|js|cjs|mjs|py|md)$/.test(f) && !/^(dist|node_modules)\//.test(f));

  it('name files that exist', () => {
    const missing = scanned
      .flatMap((file) => referencesIn(file, readFileSync(join(ROOT, file), 'utf8')))
      .filter((ref) => !resolves(ref, names, ROOT))
      .map((ref) => `${ref.file}:${ref.line}: missing ${ref.path}`);
    expect(missing, `file references that name no file:\n${missing.join('\n')}`).toEqual([]);
  });

  it('cite sections of docs/ that exist', () => {
    const headings = (doc: string): string[] =>
      existsSync(join(ROOT, doc)) ? [...readFileSync(join(ROOT, doc), 'utf8').matchAll(/^#{1,6}\s+(.+?)\s*$/gm)].map((m) => m[1]!) : [];
    const missing = scanned
      .flatMap((file) => sectionCitations(file, readFileSync(join(ROOT, file), 'utf8')))
      .filter((c) => !headings(c.doc).includes(c.section))
      .map((c) => `${c.file}:${c.line}: ${c.doc} has no section "${c.section}"`);
    expect(missing, `sections cited that no heading names:\n${missing.join('\n')}`).toEqual([]);
  });
});
