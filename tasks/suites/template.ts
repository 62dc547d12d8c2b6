/**
 * Prompt templates: literal text with `{field}` placeholders filled from an item's fields;
 * `{{` and `}}` stand for literal braces. Deliberately not Jinja: a config can only insert fields,
 * so every prompt is predictable from its template.
 */

const TOKEN = /\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]/g;

export class TemplateError extends Error {}

/** The field names a template uses, in order of first use. */
export function templateFields(template: string): string[] {
  const fields: string[] = [];
  for (const m of template.matchAll(TOKEN)) {
    if (m[0] === '{' || m[0] === '}') throw new TemplateError(`has a lone '${m[0]}' at character ${m.index} (write {{ or }} for a literal brace)`);
    const name = m[1];
    if (name !== undefined && !fields.includes(name)) fields.push(name);
  }
  return fields;
}

export function renderTemplate(template: string, fields: Readonly<Record<string, string>>): string {
  return template.replace(TOKEN, (token, name: string | undefined) => {
    if (token === '{{') return '{';
    if (token === '}}') return '}';
    if (name === undefined) throw new TemplateError(`has a lone '${token}'`);
    const value = fields[name];
    if (value === undefined) throw new TemplateError(`uses {${name}}, which the item lacks`);
    return value;
  });
}
