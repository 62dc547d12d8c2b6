/**
 * Text from data or paths (suite names, file names, stored strings, error messages), with the
 * characters a terminal acts on instead of showing written as escapes: C0 controls (ESC starts
 * colour and window-title sequences, CR overwrites the line, BEL rings), DEL, C1 controls (some
 * terminals take U+009B as CSI), the line and paragraph separators, and the bidi embeddings,
 * overrides and isolates that reorder what follows them. `\x1b`, `\r`, `\u202e` are shown instead,
 * so a printed name can neither restyle the terminal nor pretend to be other text.
 *
 * A backslash is left as it is: the escapes are for reading, and paths with backslashes stay
 * readable.
 */

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const CONTROL_CHAR = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const CONTROL = new RegExp(CONTROL_CHAR.source, 'g');
// The same set without line feed and tab.
const CONTROL_BUT_LAYOUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeOne(c: string): string {
  const code = c.charCodeAt(0);
  return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
}

/** Whether `text` holds a character escapeControlChars would escape. */
export function hasControlChars(text: string): boolean {
  return CONTROL_CHAR.test(text);
}

/** One line of text: every control character escaped, line feeds and tabs included. */
export function escapeControlChars(text: string): string {
  return text.replace(CONTROL, escapeOne);
}

/** Text whose line feeds and tabs are its own layout (YAML, a table's rows): every other control character escaped. */
export function escapeControlCharsKeepingLines(text: string): string {
  return text.replace(CONTROL_BUT_LAYOUT, escapeOne);
}

/** What JSON.stringify leaves raw of the set above: it escapes C0 controls itself. */
const JSON_RAW_CONTROL = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** JSON text with every control character as a `\uXXXX` escape: the same JSON value, safe to print. */
export function escapeControlCharsInJson(json: string): string {
  return json.replace(JSON_RAW_CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
