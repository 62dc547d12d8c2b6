#!/usr/bin/env node
// Runs the JavaScript build in dist/ (`npm run build`, which `npm ci` runs as `prepare`): compiling
// the TypeScript through tsx instead costs ~0.4 s per process and again per generation worker.
// The sources run through tsx when FLEXIBENCH_DEV=1 (edit, run, no build step), when there is no
// build (a checkout installed with --ignore-scripts), or when a source file is newer than the build,
// because running a stale build would silently ignore the edit. A person at a terminal is told so in
// one line; scripts and tests, which compare stderr, are not.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const stamp = new URL('dist/.built', root);
/** The source folders, as package.json lists them for the build and the import rules. */
const SOURCE_DIRS = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).sourceLayers;

/** The first source file changed after the build was stamped, or null. */
function newerSource(builtAt) {
  for (const dir of SOURCE_DIRS) {
    for (const name of readdirSync(new URL(dir, root), { recursive: true })) {
      if (name.endsWith('.ts') && (statSync(new URL(`${dir}/${name}`, root), { throwIfNoEntry: false })?.mtimeMs ?? 0) > builtAt) return `${dir}/${name}`;
    }
  }
  return null;
}

function useBuild() {
  if (process.env.FLEXIBENCH_DEV === '1' || !existsSync(stamp)) return false;
  const changed = newerSource(statSync(stamp).mtimeMs);
  if (changed === null) return true;
  if (process.stderr.isTTY)
    process.stderr.write(
      `flexibench: note: ${changed} is newer than the build in dist/; running the sources through tsx (npm run build makes start-up fast again)\n`,
    );
  return false;
}

if (useBuild()) {
  await import('../dist/harness/cli.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../harness/cli.ts');
}
