/**
 * Reading the files a user points flexibench at (configs, checkpoints, tokenizers): failures become
 * one-line UserErrors that name the file.
 */
import { readFileSync } from 'node:fs';
import { UserError } from './errors.ts';

export function readUserFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** A JSON file whose top level must be an object. */
export function readJsonObject(path: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(readUserFile(path).toString('utf8'));
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UserError(`${path}: expected a JSON object`);
  return json as Record<string, unknown>;
}
