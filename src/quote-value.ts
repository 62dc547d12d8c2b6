/**
 * A value from a user's file as an error message shows it: its JSON, cut short and safe to print.
 * A hostile file can hold a value megabytes long or nested deeper than JSON.stringify can recurse
 * (it throws a RangeError); either must still give a one-line message.
 */
import { escapeControlChars, escapeControlCharsInJson } from './control-chars.ts';

/** Characters of a quoted value: enough to recognise it, one line on a screen. */
const QUOTE_MAX_CHARS = 80;

/** `v` as JSON of at most about `maxChars` characters ("…" marks a cut), or its kind when it cannot be written. */
export function quoteValue(v: unknown, maxChars: number = QUOTE_MAX_CHARS): string {
  let text: string | undefined;
  if (typeof v === 'string') {
    // Cut before it is quoted, so the quote keeps its closing mark.
    text = JSON.stringify(v.length > maxChars ? `${v.slice(0, maxChars)}…` : v);
  } else {
    try {
      text = JSON.stringify(v);
    } catch {
      // Too deep to recurse into (or a BigInt, which JSON cannot write).
      return Array.isArray(v) ? 'a deeply nested array' : typeof v === 'object' && v !== null ? 'a deeply nested object' : String(v);
    }
    text ??= String(v);
    if (text.length > maxChars) text = `${text.slice(0, maxChars)}…`;
  }
  // JSON escapes C0 controls; DEL, C1 (a terminal's CSI among them) and the bidi controls are escaped here.
  return escapeControlCharsInJson(text);
}

/** Like quoteValue, but a string (a name, a tag) in single quotes as written: 'llama', not "llama". */
export function quoteName(v: unknown, maxChars: number = QUOTE_MAX_CHARS): string {
  if (typeof v !== 'string') return quoteValue(v, maxChars);
  return `'${escapeControlChars(v.length > maxChars ? `${v.slice(0, maxChars)}…` : v)}'`;
}
