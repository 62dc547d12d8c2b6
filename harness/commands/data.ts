/**
 * `flexibench data <list|verify|pull>`: the dataset mirror. Each action is a subcommand with the
 * same options, so `data list --help` and a missing action answer with the actions' help.
 */
import { Command } from 'commander';
import { UserError } from '../../src/errors.ts';
import { resolveDataDir } from '../../datasets/data-dir.ts';
import { readVerified } from '../../datasets/load.ts';
import { listDatasets, loadManifest } from '../../datasets/manifest.ts';
import { pullDataset } from '../../datasets/pull.ts';
import { DATA_DIR, defineCommand, withOneLineErrors, texts, type OptionValues } from '../args.ts';

const OPTIONS = {
  dataDir: DATA_DIR,
  dataset: texts('NAME', 'only this dataset (repeat for several)', { defaultText: 'every dataset' }),
};

function selected(names: string[]): string[] {
  if (names.length === 0) return listDatasets();
  for (const name of names) loadManifest(name);
  return names;
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function list(dataDir: string, names: string[]): Promise<void> {
  const manifests = names.map((n) => loadManifest(n));
  process.stdout.write(`${JSON.stringify({ data_dir: dataDir, datasets: manifests }, null, 2)}\n`);
  return Promise.resolve();
}

function verify(dataDir: string, names: string[]): Promise<void> {
  let bad = 0;
  for (const name of names) {
    for (const file of Object.values(loadManifest(name).files)) {
      try {
        readVerified(dataDir, file);
        log(`ok       ${file.path}`);
      } catch (err) {
        bad++;
        log(`FAILED   ${(err as Error).message}`);
      }
    }
  }
  if (bad > 0) throw new UserError(`data verify: ${bad} file(s) missing or altered in ${dataDir}`);
  log(`data verify: all files match their sha256 in ${dataDir}`);
  return Promise.resolve();
}

async function pull(dataDir: string, names: string[]): Promise<void> {
  log(`data pull: into ${dataDir}`);
  let noSource = 0;
  for (const name of names) {
    const outcomes = await pullDataset(name, { dataDir, log });
    noSource += Object.values(outcomes).filter((o) => o === 'no-source').length;
  }
  if (noSource > 0) log(`data pull: ${noSource} file(s) have no download source; copy them from a mirror (FLEXIBENCH_DATA_DIR)`);
}

const ACTIONS = [
  { name: 'list', description: 'print the manifests (name, license, source, files) as JSON', act: list },
  { name: 'verify', description: 'check every manifest file in the data directory against its sha256; exit 1 if any is missing or differs', act: verify },
  { name: 'pull', description: 'download missing or altered files from their canonical sources (needs internet)', act: pull },
];

export const command = withOneLineErrors(new Command('data'), 'data: ').description('The dataset mirror. With no action, this help.');
for (const { name, description, act } of ACTIONS) {
  const run = (values: OptionValues<typeof OPTIONS>): Promise<void> => act(resolveDataDir(values.dataDir), selected(values.dataset));
  command.addCommand(defineCommand({ name: `data ${name}`, description, options: OPTIONS, action: run }));
}
