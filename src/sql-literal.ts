/**
 * Values written into SQL text as literals, for the few places where a statement cannot take them
 * as parameters: DDL (a CHECK constraint), ATTACH, COPY ... TO, SET, and IN lists built once.
 */

/** A string literal: single quotes, each `'` inside doubled. */
export const sqlString = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** A parenthesized list of string literals, for `x IN (...)`: `('a', 'b')`. */
export const sqlList = (values: readonly string[]): string => `(${values.map(sqlString).join(', ')})`;
