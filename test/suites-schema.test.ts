/**
 * The task config schema has one source (tasks/suites/task-schema.ts): the committed
 * tasks/task.schema.json must be what it generates, must work on its own for users and editors,
 * and validation must leave a config exactly as written (suite config hashes are over it).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateConfig } from '../src/config-validation.ts';
import { listSuites, loadTaskSpec } from '../tasks/suites/spec.ts';
import { taskSchemaJson } from '../tasks/suites/task-schema.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const schemaFile = path.join(repoRoot, 'tasks', 'task.schema.json');

describe('tasks/task.schema.json', () => {
  it('is the schema tasks/suites/task-schema.ts generates (run `npm run schemas` after changing it)', () => {
    expect(readFileSync(schemaFile, 'utf8')).toBe(taskSchemaJson());
  });

  it.each(listSuites())('accepts tasks/%s.yaml on its own, with strict ajv', (suite) => {
    const config = parse(readFileSync(path.join(repoRoot, 'tasks', `${suite}.yaml`), 'utf8')) as unknown;
    expect(validateConfig(config, schemaFile, suite)).toBe(config);
  });

  it('rejects what the loader rejects, with the same message', () => {
    const config = parse(readFileSync(path.join(repoRoot, 'tasks', 'addition.yaml'), 'utf8')) as { source: Record<string, unknown> };
    config.source.options = { digits: 4 };
    expect(() => validateConfig(config, schemaFile, 'x.yaml')).toThrow(/^x\.yaml: \/source\/options\/digits must be one of 2, 3 \(got 4\)$/);
  });
});

describe('validation leaves the config as written', () => {
  it.each(listSuites())('%s: no defaults filled in, nothing dropped', (suite) => {
    const written = parse(readFileSync(path.join(repoRoot, 'tasks', `${suite}.yaml`), 'utf8')) as unknown;
    const { file, ...config } = loadTaskSpec(suite);
    expect(file).toBe(`tasks/${suite}.yaml`);
    expect(config).toStrictEqual(written);
  });
});
