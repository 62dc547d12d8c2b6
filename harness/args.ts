/**
 * Command-line option parsing shared by the commands: node:util parseArgs, with the user's mistakes
 * (unknown flag, missing value, bad number) turned into one-line UserErrors.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../src/errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseOptions<T extends Options>(command: string, argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UserError(`${command}: ${(err as Error).message.split('\n')[0]}`);
  }
}

export function requireOption(command: string, value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UserError(`${command}: missing required option --${flag}`);
  return value;
}

export function numberOption(command: string, value: string | undefined, flag: string, fallback: number, opts: { integer?: boolean; min?: number; max?: number } = {}): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
    const range = [opts.integer ? 'an integer' : 'a number', opts.min !== undefined ? `>= ${opts.min}` : '', opts.max !== undefined ? `<= ${opts.max}` : ''].filter(Boolean).join(' ');
    throw new UserError(`${command}: --${flag} must be ${range}, got '${value}'`);
  }
  return n;
}

export function choiceOption<C extends string>(command: string, value: string | undefined, flag: string, choices: readonly C[], fallback: C): C {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) throw new UserError(`${command}: --${flag} must be one of ${choices.join(', ')}, got '${value}'`);
  return value as C;
}
