/**
 * A source's `derive` rules: extra fields computed from a row's fields, e.g. a question without
 * the prefix the dataset writes before it.
 */
import type { DeriveRules } from './task-schema.ts';

/**
 * The fields with the derived ones added, or the rule whose `strip_prefix` the row's value lacks,
 * for the caller to refuse naming the row.
 */
export function withDerived(
  fields: Readonly<Record<string, string>>,
  derive: DeriveRules | undefined,
): { fields: Record<string, string> } | { mismatch: { name: string; from: string; prefix: string } } {
  const out: Record<string, string> = { ...fields };
  for (const [name, rule] of Object.entries(derive ?? {})) {
    let value = out[rule.from] ?? '';
    if (rule.strip_prefix !== undefined) {
      if (!value.startsWith(rule.strip_prefix)) return { mismatch: { name, from: rule.from, prefix: rule.strip_prefix } };
      value = value.slice(rule.strip_prefix.length);
    }
    out[name] = value;
  }
  return { fields: out };
}
