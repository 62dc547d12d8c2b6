/**
 * The items of a user's own file (source kind `file`, ./item-file.ts) and the checks that a task
 * uses only fields its rows have. An item is a row's fields plus the derived ones, with a stable
 * id: the `id_field`'s value, else `<file name>-<row index>`, as a dataset's rows are
 * `<split>-<row index>`.
 *
 * A field that no row has is the task's mistake and is named at the task's field; one that some
 * rows lack is the file's, and the first such row is named.
 */
import path from 'node:path';
import { UserError } from '../../src/errors.ts';
import { withDerived } from './derive.ts';
import type { Item } from './item.ts';
import type { ItemFile } from './item-file.ts';
import type { DeriveRules } from './task-schema.ts';

/** What a file source says about its rows beyond where they are. */
export interface FileItemSettings {
  derive?: DeriveRules;
  id_field?: string;
}

/** A use of a field by the task at `at` (a JSON path); `absent` says it when no row has the field ("uses {x}, not a field of"). */
interface FieldUse {
  name: string;
  at: string;
  absent: string;
}

function requireField(file: ItemFile, derived: readonly string[], use: FieldUse, task: string): void {
  if (file.fields.includes(use.name) || derived.includes(use.name)) return;
  const lacking = file.rows.find((row) => !(use.name in row.fields));
  if (lacking === undefined) return;
  if (!file.rows.some((row) => use.name in row.fields)) {
    throw new UserError(`${task}: ${use.at} ${use.absent} ${file.shown} (fields: ${[...file.fields, ...derived].join(', ')})`);
  }
  throw new UserError(`${file.shown}: ${lacking.where} has no field '${use.name}' (${task} ${use.at} uses it)`);
}

/**
 * Refuses a template field that not every row of `file` has (derived fields count): `uses` maps a
 * template's JSON path (/prompt/template) to the fields it inserts.
 */
export function checkTemplateFields(file: ItemFile, derive: DeriveRules | undefined, uses: readonly [string, readonly string[]][], task: string): void {
  const derived = Object.keys(derive ?? {});
  for (const [at, names] of uses) {
    for (const name of names) requireField(file, derived, { name, at, absent: `uses {${name}}, not a field of` }, task);
  }
}

/** The file's rows as items; refuses derive rules and an id field the rows do not support. */
export function fileItems(file: ItemFile, settings: FileItemSettings, task: string): Item[] {
  const derived = Object.keys(settings.derive ?? {});
  for (const [name, rule] of Object.entries(settings.derive ?? {})) {
    requireField(file, derived, { name: rule.from, at: `/source/derive/${name}/from`, absent: `'${rule.from}' is not a field of` }, task);
  }
  const idField = settings.id_field;
  if (idField !== undefined) requireField(file, derived, { name: idField, at: '/source/id_field', absent: `'${idField}' is not a field of` }, task);

  const stem = path.parse(file.shown).name;
  const seen = new Map<string, string>();
  return file.rows.map((row, index) => {
    const result = withDerived(row.fields, settings.derive);
    if ('mismatch' in result) {
      const { name, from, prefix } = result.mismatch;
      throw new UserError(`${file.shown}: ${row.where}: '${from}' does not start with '${prefix}' (${task} /source/derive/${name})`);
    }
    const fields = result.fields;
    if (idField === undefined) return { id: `${stem}-${index}`, fields };
    const id = fields[idField] as string;
    const first = seen.get(id);
    if (first !== undefined) throw new UserError(`${file.shown}: ${row.where}: id '${id}' repeats ${first}'s (${task} /source/id_field)`);
    seen.set(id, row.where);
    return { id, fields };
  });
}
