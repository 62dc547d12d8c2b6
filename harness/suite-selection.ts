/**
 * What `--suites` names, as suite names: a name, a glob over the known names (`gsm*`, `*-writing`),
 * a named group, or a FILE.yaml path (kept as it is: loading it names its own errors). Each suite
 * once, in the order first named. A glob that matches nothing is refused in one line with the
 * known names and groups, before anything is read; a plain name is checked where it is loaded.
 */
import { UserError } from '../src/errors.ts';
import { listSuites } from '../tasks/suites/spec.ts';
import { PAPER_TASKS } from '../reports/paper.ts';

/** Named groups: `paper` is the six task families of the paper's Table 2, as the report pools them. */
const GROUPS: Readonly<Record<string, readonly string[]>> = {
  paper: PAPER_TASKS.flatMap((task) => task.suites),
};

export const groupNames = (): string => Object.keys(GROUPS).join(', ');

const isPath = (entry: string): boolean => entry.endsWith('.yaml') || entry.includes('/');

/** `*` any run of characters, `?` one; the rest literal. */
function globPattern(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${body}$`);
}

export function selectSuites(entries: readonly string[], includePaths: readonly string[] = []): string[] {
  const known = listSuites(includePaths);
  const selected: string[] = [];
  for (const entry of entries) {
    if (isPath(entry)) {
      selected.push(entry);
      continue;
    }
    const group = Object.hasOwn(GROUPS, entry) ? GROUPS[entry] : undefined;
    if (group !== undefined) selected.push(...group);
    else if (!/[*?]/.test(entry)) selected.push(entry);
    else {
      const names = known.filter((name) => globPattern(entry).test(name));
      if (names.length === 0) throw new UserError(`run: --suites: '${entry}' matches no suite (known: ${known.join(', ')}; groups: ${groupNames()})`);
      selected.push(...names);
    }
  }
  return [...new Set(selected)];
}
