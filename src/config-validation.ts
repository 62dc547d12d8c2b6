/**
 * Validates YAML/JSON configs (task specs, dataset manifests) against their JSON Schema with ajv and
 * turns the first violation into one line that names the file and the field path, e.g.
 * `tasks/gsm8k.yaml: /generation/max_new_tokens must be integer`. Schemas are JSON files or TypeBox
 * schemas (one source for the JSON Schema and the TypeScript type); `enumOf` and `taggedUnion` are
 * the TypeBox forms whose errors `describe` turns into "must be one of ...".
 */
import { readFileSync } from 'node:fs';
import { type SchemaOptions, type Static, type TSchema, type TUnion, type TUnsafe, Type } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';
import { UserError, oneLineReason } from './errors.ts';
import { quoteName } from './quote-value.ts';

const ajv = new Ajv({ allErrors: false, discriminator: true, verbose: true, strict: true, strictRequired: false });
const compiledFiles = new Map<string, ValidateFunction>();
const compiledSchemas = new WeakMap<TSchema, ValidateFunction>();

function validatorForFile(schemaPath: string): ValidateFunction {
  let validate = compiledFiles.get(schemaPath);
  if (validate === undefined) {
    validate = ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')) as object);
    compiledFiles.set(schemaPath, validate);
  }
  return validate;
}

function validatorForSchema<S extends TSchema>(schema: S): ValidateFunction<Static<S>> {
  let validate = compiledSchemas.get(schema);
  if (validate === undefined) {
    validate = ajv.compile<Static<S>>(schema);
    compiledSchemas.set(schema, validate);
  }
  return validate as ValidateFunction<Static<S>>;
}

/**
 * An `enum` of literal values. TypeBox writes a union of literals as `anyOf`, whose first error is
 * one branch's "must be equal to constant" rather than the list of allowed values.
 */
export function enumOf<const V extends readonly (string | number)[]>(values: V, options: SchemaOptions = {}): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ ...options, enum: [...values] });
}

/**
 * A `oneOf` whose branch is chosen by the string field `tag` (ajv's `discriminator`), so that a wrong
 * tag reports the allowed tags and a right one reports only its own branch's errors. Each branch
 * must be an object schema that requires `tag` and gives it a `const`.
 */
export function taggedUnion<B extends TSchema[]>(tag: string, branches: [...B], options: SchemaOptions = {}): TUnsafe<Static<TUnion<B>>> {
  return Type.Unsafe<Static<TUnion<B>>>({ ...options, type: 'object', discriminator: { propertyName: tag }, oneOf: branches });
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
      return `${at(path)} must be one of ${(params.allowedValues as unknown[]).map((v) => quoteName(v)).join(', ')} (got ${quoteName(error.data)})`;
    case 'const':
      return `${at(path)} must be ${quoteName(params.allowedValue)} (got ${quoteName(error.data)})`;
    case 'discriminator': {
      const tag = String(params.tag);
      const branches = ((error.parentSchema as { oneOf?: { properties?: Record<string, { const?: unknown }> }[] })?.oneOf ?? [])
        .map((branch) => branch.properties?.[tag]?.const)
        .filter((v) => v !== undefined);
      if (params.error === 'tag') return `${path}/${tag} is missing or not a string`;
      return `${path}/${tag} must be one of ${branches.map((v) => quoteName(v)).join(', ')} (got ${quoteName(params.tagValue)})`;
    }
    default:
      return `${at(path)} ${error.message ?? 'is invalid'}`;
  }
}

/**
 * How far YAML aliases may expand (yaml's own measure: the uses of an anchor times the aliases
 * inside it), so that an alias bomb ("billion laughs") is refused instead of expanded. Configs
 * written by hand stay far below it; docs/usage.md, "Limits on input", states it.
 */
export const MAX_YAML_ALIAS_COUNT = 100;

/** Parses YAML text, failing with the file and line of a syntax error, or the file for an alias that will not resolve. */
export function parseYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const line = first.linePos?.[0].line;
    const message = oneLineReason(first).replace(/ at line \d+, column \d+:?$/, '');
    throw new UserError(`${file}${line !== undefined ? `:${line}` : ''}: YAML ${message}`);
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (err) {
    // yaml throws a ReferenceError for an alias it will not resolve: an unknown anchor, or too many expansions.
    if (!(err instanceof ReferenceError)) throw err;
    const why = err.message.startsWith('Excessive alias count')
      ? `aliases expand past the limit of ${MAX_YAML_ALIAS_COUNT} (an alias bomb?); write the repeated values out`
      : oneLineReason(err);
    throw new UserError(`${file}: YAML ${why}`);
  }
}

function invalid(validate: ValidateFunction, file: string): UserError {
  const error = validate.errors?.[0];
  return new UserError(`${file}: ${error === undefined ? 'invalid' : describe(error)}`);
}

/** Checks `value` against the schema at `schemaPath`; throws a one-line UserError naming `file` and the field. */
export function validateConfig<T>(value: unknown, schemaPath: string, file: string): T {
  const validate = validatorForFile(schemaPath);
  if (!validate(value)) throw invalid(validate, file);
  return value as T;
}

/**
 * Checks `value` against a TypeBox schema and returns it typed by that schema, unchanged (no
 * defaults filled in: callers hash the config as written). Failures as validateConfig.
 */
export function validateAgainst<S extends TSchema>(value: unknown, schema: S, file: string): Static<S> {
  const validate = validatorForSchema(schema);
  if (!validate(value)) throw invalid(validate, file);
  return value;
}
