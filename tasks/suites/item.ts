/** One item of a suite, before any prompt is rendered (./items.ts makes them). */
export interface Item {
  /**
   * Stable across runs, limits and machines: the dataset's id field, else `<split>-<row>`;
   * `<seed>-<n>` for generated items; a file's `id_field`, else `<file name>-<row>`.
   */
  id: string;
  fields: Readonly<Record<string, string>>;
}
