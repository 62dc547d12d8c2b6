/**
 * Validates YAML/JSON configs (task specs, dataset manifests) against their JSON Schema with ajv and
 * turns the first violation into one line that names the file and the field path, e.g.
 * `tasks/gsm8k.yaml: /generation/max_new_tokens must be integer`.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';
import { UserError } from './errors.ts';

const ajv = new Ajv({ allErrors: false, discriminator: true, verbose: true, strict: true, strictRequired: false });
const compiled = new Map<string, ValidateFunction>();

function validatorFor(schemaPath: string): ValidateFunction {
  let validate = compiled.get(schemaPath);
  if (validate === undefined) {
    validate = ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')) as object);
    compiled.set(schemaPath, validate);
  }
  return validate;
}

function quote(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
}

/** A JSON pointer for people: "/" for the document itself. */
function at(path: string): string {
  return path === '' ? '/' : path;
}

function describe(error: ErrorObject): string {
  const path = error.instancePath;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return `${path}/${String(params.missingProperty)} is missing`;
    case 'additionalProperties':
      return `${path}/${String(params.additionalProperty)} is not a known field`;
    case 'enum':
      return `${at(path)} must be one of ${(params.allowedValues as unknown[]).map(quote).join(', ')} (got ${quote(error.data)})`;
    case 'const':
      return `${at(path)} must be ${quote(params.allowedValue)} (got ${quote(error.data)})`;
    case 'discriminator': {
      const tag = String(params.tag);
      const branches = ((error.parentSchema as { oneOf?: { properties?: Record<string, { const?: unknown }> }[] })?.oneOf ?? [])
        .map((branch) => branch.properties?.[tag]?.const)
        .filter((v) => v !== undefined);
      if (params.error === 'tag') return `${path}/${tag} is missing or not a string`;
      return `${path}/${tag} must be one of ${branches.map(quote).join(', ')} (got ${quote(params.tagValue)})`;
    }
    default:
      return `${at(path)} ${error.message ?? 'is invalid'}`;
  }
}

/** Parses YAML text, failing with the file and line of a syntax error. */
export function parseYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const line = first.linePos?.[0].line;
    const message = (first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new UserError(`${file}${line !== undefined ? `:${line}` : ''}: YAML ${message}`);
  }
  return doc.toJS();
}

/** Checks `value` against the schema at `schemaPath`; throws a one-line UserError naming `file` and the field. */
export function validateConfig<T>(value: unknown, schemaPath: string, file: string): T {
  const validate = validatorFor(schemaPath);
  if (!validate(value)) {
    const error = validate.errors?.[0];
    throw new UserError(`${file}: ${error === undefined ? 'invalid' : describe(error)}`);
  }
  return value as T;
}
