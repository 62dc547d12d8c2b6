/**
 * Command-line option parsing shared by the commands: node:util parseArgs, with the user's mistakes
 * (unknown flag, missing value, bad number) turned into one-line UserErrors.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../src/errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** A value that parseArgs would take for an option: `-1`, `-0.5`, `-.5`, `-1e-3`. */
const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/** `--limit -1` as `--limit=-1`, so a negative number reaches the range check instead of being called ambiguous. */
function attachNegativeValues(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const next = argv[i + 1];
    const name = flag.startsWith('--') ? flag.slice(2) : null;
    if (name !== null && options[name]?.type === 'string' && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(`${flag}=${next}`);
      i++;
    } else {
      out.push(flag);
    }
  }
  return out;
}

export function parseOptions<T extends Options>(command: string, argv: string[], options: T) {
  try {
    return parseArgs({ args: attachNegativeValues(argv, options), options, strict: true, allowPositionals: false }).values;
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
    const kind = opts.integer ? 'an integer' : 'a number';
    const { min, max } = opts;
    const bounds = min !== undefined && max !== undefined ? `from ${min} to ${max}` : min !== undefined ? `>= ${min}` : max !== undefined ? `<= ${max}` : '';
    const range = `${kind} ${bounds}`.trim();
    throw new UserError(`${command}: --${flag} must be ${range}, got '${value}'`);
  }
  return n;
}

export function choiceOption<C extends string>(command: string, value: string | undefined, flag: string, choices: readonly C[], fallback: C): C {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) throw new UserError(`${command}: --${flag} must be one of ${choices.join(', ')}, got '${value}'`);
  return value as C;
}
