/**
 * An item's fields from a row of a data file: strings as they are, every other value (a number,
 * true, null, a list) as its JSON, so that a template inserts what the file holds.
 */
export function rowFields(row: Readonly<Record<string, unknown>>): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(row)) {
    fields[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return fields;
}
