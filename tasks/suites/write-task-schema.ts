/**
 * Writes tasks/task.schema.json from the TypeBox task config schema (`npm run schemas`). Run it
 * after changing ./task-schema.ts; test/suites-schema.test.ts fails while the two differ.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { packagePath } from '../../src/package-root.ts';
import { taskSchemaJson } from './task-schema.ts';

const file = packagePath('tasks', 'task.schema.json');
writeFileSync(file, taskSchemaJson());
console.error(`wrote ${path.relative(process.cwd(), file)}`);
