/**
 * Option tables: each command declares its options once, as data (what the option means, the name
 * of its value, its default, how its text is parsed and checked, whether it is required), and
 * defineCommand turns the table into a commander Command. Help text, parsed values and the one-line
 * errors then all come from that one table, as vitest's cli-config does for cac.
 *
 * A table's keys are the values' names in camelCase; the flag is the key in kebab-case
 * (maxLength: --max-length).
 */
import { Command, Option } from 'commander';
import { UserError } from '../src/errors.ts';

/** What is wrong with an option's text, worded to follow the flag ("must be an integer >= 1, got '-1'"); the command and flag are added where it is reported. */
class BadOptionValue extends Error {}

export interface OptionSpec<T, Present extends boolean = boolean> {
  readonly description: string;
  /** The value's name in help (`--limit <N>`); null for a switch, which takes no value. */
  readonly argument: string | null;
  /** The value from the option's text; given the value so far when the option repeats. Throws BadOptionValue. */
  parse(text: string, previous: T | undefined): T;
  /** The value when the option is not given. */
  readonly default?: T;
  /** How help states the default, when the option has none or its value would mislead (a machine's core count). */
  readonly defaultText?: string;
  readonly required?: boolean;
  /** The values it takes, as help states them after the description ('an integer from 1 to 256'). */
  readonly accepts?: string;
  /** Only read by the types: whether the parsed values always hold this option (a default, a required option, a switch). */
  readonly present?: Present;
}

// The table's constraint: method syntax in OptionSpec lets any value type stand here.
export type OptionTable = Record<string, OptionSpec<unknown>>;

export type OptionValues<T extends OptionTable> = {
  [K in keyof T]: T[K] extends OptionSpec<infer V, true> ? V : T[K] extends OptionSpec<infer V, boolean> ? V | undefined : never;
};

type HasDefault<O> = O extends { default: unknown } ? true : false;

interface DefaultOf<T> {
  default?: T;
  defaultText?: string;
}

/** Only the default and its wording from a builder's options (not its range or choices). */
function defaultOf<T>(opts: DefaultOf<T> | undefined): DefaultOf<T> {
  return { ...(opts?.default !== undefined ? { default: opts.default } : {}), ...(opts?.defaultText !== undefined ? { defaultText: opts.defaultText } : {}) };
}

interface Range {
  min?: number;
  max?: number;
}

function rangeWords(kind: string, { min, max }: Range): string {
  if (min !== undefined && max !== undefined) return `${kind} from ${min} to ${max}`;
  if (min !== undefined) return `${kind} >= ${min}`;
  if (max !== undefined) return `${kind} <= ${max}`;
  return kind;
}

function numberParser(integer: boolean, range: Range): (text: string) => number {
  const wanted = rangeWords(integer ? 'an integer' : 'a number', range);
  return (text) => {
    const n = Number(text);
    const ok =
      text.trim() !== '' &&
      Number.isFinite(n) &&
      (!integer || Number.isInteger(n)) &&
      (range.min === undefined || n >= range.min) &&
      (range.max === undefined || n <= range.max);
    if (!ok) throw new BadOptionValue(`must be ${wanted}, got '${text}'`);
    return n;
  };
}

/** A switch: true when given. */
export function flag(description: string): OptionSpec<boolean, true> {
  return { description, argument: null, parse: () => true, default: false };
}

export function text<const O extends DefaultOf<string>>(argument: string, description: string, opts?: O): OptionSpec<string, HasDefault<O>> {
  return { description, argument, parse: (t) => t, ...defaultOf(opts) };
}

/** An option given any number of times, each value kept in order. */
export function texts(argument: string, description: string, opts?: DefaultOf<string[]>): OptionSpec<string[], true> {
  return { description, argument, parse: (t, previous) => [...(previous ?? []), t], default: [], ...defaultOf(opts) };
}

/** An integer in `opts`' range, which help states and a value outside is refused with. */
export function integer<const O extends Range & DefaultOf<number>>(argument: string, description: string, opts: O): OptionSpec<number, HasDefault<O>> {
  return { description, argument, parse: numberParser(true, opts), accepts: rangeWords('an integer', opts), ...defaultOf(opts) };
}

/** A finite number in `opts`' range, which help states and a value outside is refused with. */
export function real<const O extends Range & DefaultOf<number>>(argument: string, description: string, opts: O): OptionSpec<number, HasDefault<O>> {
  return { description, argument, parse: numberParser(false, opts), accepts: rangeWords('a number', opts), ...defaultOf(opts) };
}

export function oneOf<C extends string, const O extends DefaultOf<NoInfer<C>>>(
  argument: string,
  description: string,
  choices: readonly C[],
  opts?: O,
): OptionSpec<C, HasDefault<O>> {
  const parse = (t: string): C => {
    if (!(choices as readonly string[]).includes(t)) throw new BadOptionValue(`must be one of ${choices.join(', ')}, got '${t}'`);
    return t as C;
  };
  return { description: `${description} (${choices.join(', ')})`, argument, parse, ...defaultOf(opts) };
}

/** A comma-separated list (`a,b`), each name once, in the order given; with `choices`, only those. */
export function commaList<C extends string, const O extends DefaultOf<NoInfer<C>[]>>(
  argument: string,
  description: string,
  item: string,
  opts?: O & { choices?: readonly C[] },
): OptionSpec<C[], HasDefault<O>> {
  const known: readonly string[] | undefined = opts?.choices;
  const parse = (t: string): C[] => {
    const names = [
      ...new Set(
        t
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ];
    if (names.length === 0) throw new BadOptionValue(`needs at least one ${item}`);
    const unknown = names.find((n) => known !== undefined && !known.includes(n));
    if (unknown !== undefined) throw new BadOptionValue(`has an unknown ${item} '${unknown}' (known: ${known?.join(', ')})`);
    return names as C[];
  };
  return { description, argument, parse, ...defaultOf({ defaultText: opts?.default?.join(','), ...opts }) };
}

/** The option must be given, with a non-empty value. */
export function required<T>(spec: OptionSpec<T>): OptionSpec<T, true> {
  return { ...spec, required: true } as OptionSpec<T, true>;
}

/**
 * An integer range check that needs what is only known after parsing (the model's context, say),
 * worded as the table's own; `why` says where the bound comes from when it is not the table's.
 */
export function integerOutOfRange(command: string, flagName: string, value: number, range: Range, why?: string): UserError {
  return new UserError(`${command}: --${flagName} must be ${rangeWords('an integer', range)}, got '${value}'${why === undefined ? '' : ` (${why})`}`);
}

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function helpDescription(spec: OptionSpec<unknown>): string {
  const described = spec.accepts === undefined ? spec.description : `${spec.description} (${spec.accepts})`;
  if (spec.required) return `${described} (required)`;
  const shown =
    spec.defaultText ?? (spec.default === undefined || typeof spec.default === 'boolean' || Array.isArray(spec.default) ? undefined : String(spec.default));
  return shown === undefined ? described : `${described} (default: ${shown})`;
}

function commanderOption(command: string, key: string, spec: OptionSpec<unknown>): Option {
  const name = kebab(key);
  const option = new Option(spec.argument === null ? `--${name}` : `--${name} <${spec.argument}>`, helpDescription(spec));
  // Defaults are filled in after parsing, not given to commander: it would pass a repeatable
  // option's default to the first value as the list so far.
  if (spec.argument !== null) {
    option.argParser((value: string, previous: unknown) => {
      try {
        return spec.parse(value, previous);
      } catch (err) {
        if (err instanceof BadOptionValue) throw new UserError(`${command}: --${name} ${err.message}`);
        throw err;
      }
    });
  }
  return option;
}

function valuesOf<T extends OptionTable>(command: string, options: T, parsed: Record<string, unknown>): OptionValues<T> {
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(options)) {
    const given = parsed[key];
    if (spec.required && (given === undefined || given === '')) throw new UserError(`${command}: missing required option --${kebab(key)}`);
    values[key] = given === undefined ? spec.default : given;
  }
  return values as OptionValues<T>;
}

/** One line from commander's message: "error: unknown option '--x'\n(Did you mean --y?)" -> "unknown option '--x' (did you mean --y?)". */
function commanderReason(message: string): string {
  return message
    .replace(/^error: /, '')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ')
    .replace('(Did you mean', '(did you mean')
    .replace(/^too many arguments for '[^']*'\./, 'too many arguments.');
}

/**
 * Makes commander report through our conventions: its mistakes (unknown option or command, a
 * missing value, extra arguments) become one-line UserErrors prefixed with `prefix`; help and
 * --version, which it has already printed, end the command with their own CommanderError.
 */
export function withOneLineErrors(cmd: Command, prefix: string): Command {
  return cmd.configureOutput({ outputError: () => {} }).exitOverride((err) => {
    if (err.exitCode === 0 || err.code === 'commander.help') throw err;
    throw new UserError(`${prefix}${commanderReason(err.message)}`);
  });
}

export interface CommandSpec<T extends OptionTable> {
  /** The command's name; for a subcommand, its parent's name and its own ('data list'). */
  name: string;
  description: string;
  /** Positional arguments in commander's notation: '[name]'. */
  arguments?: string;
  options: T;
  /** Help text after the option list. */
  epilog?: string;
  action(values: OptionValues<T>, operands: string[]): Promise<void>;
}

/** The usage line: required options spelled out, as `items --suite <NAME> [options]`. */
function usageLine(spec: CommandSpec<OptionTable>): string {
  const requiredOptions = Object.entries(spec.options)
    .filter(([, o]) => o.required)
    .map(([key, o]) => `--${kebab(key)} <${o.argument}>`);
  return [...requiredOptions, '[options]', ...(spec.arguments !== undefined ? [spec.arguments] : [])].join(' ');
}

export function defineCommand<T extends OptionTable>(spec: CommandSpec<T>): Command {
  const own = spec.name.split(' ').at(-1)!;
  const cmd = new Command(own).description(spec.description).usage(usageLine(spec));
  for (const [key, option] of Object.entries(spec.options)) cmd.addOption(commanderOption(spec.name, key, option));
  if (spec.arguments !== undefined) cmd.arguments(spec.arguments);
  if (spec.epilog !== undefined) cmd.addHelpText('after', `\n${spec.epilog}`);
  cmd.action(async (...args: unknown[]) => {
    // commander passes the operands, then the parsed options and the command itself.
    const operands = args.slice(0, -2).filter((a): a is string => typeof a === 'string');
    await spec.action(valuesOf(spec.name, spec.options, cmd.opts()), operands);
  });
  return withOneLineErrors(cmd, `${spec.name}: `);
}

/** --data-dir, as every command that reads datasets takes it (datasets/data-dir.ts resolves it). */
export const DATA_DIR = text('DIR', 'the data directory', { defaultText: '$FLEXIBENCH_DATA_DIR, else ~/.cache/flexibench/datasets' });

/** --include-path: suite names are also looked up in these folders of task YAMLs, before tasks/. */
export const INCLUDE_PATH = texts('DIR', 'a folder of custom task YAMLs; its suites shadow those of tasks/ with the same name (repeatable)');
