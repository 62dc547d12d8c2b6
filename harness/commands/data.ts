/**
 * `flexibench data <list|verify|pull>`: the dataset mirror.
 *   list    manifests: name, license, source and files (JSON on stdout)
 *   verify  checks every manifest file in the data directory against its sha256; exit 1 if any is missing or differs
 *   pull    downloads missing or altered files from their canonical sources (needs internet)
 * The data directory is --data-dir, else $FLEXIBENCH_DATA_DIR, else ~/.cache/flexibench/datasets.
 */
import { parseArgs } from 'node:util';
import { UserError } from '../../src/errors.ts';
import { resolveDataDir } from '../../datasets/data-dir.ts';
import { readVerified } from '../../datasets/load.ts';
import { listDatasets, loadManifest } from '../../datasets/manifest.ts';
import { pullDataset } from '../../datasets/pull.ts';

const USAGE = 'usage: flexibench data <list|verify|pull> [--data-dir DIR] [--dataset NAME]...';

function selected(names: string[] | undefined): string[] {
  if (names === undefined || names.length === 0) return listDatasets();
  for (const name of names) loadManifest(name);
  return names;
}

export async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        'data-dir': { type: 'string' },
        dataset: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new UserError(`data: ${(err as Error).message} (${USAGE})`);
  }
  const { values, positionals } = parsed;
  const [action, ...extra] = positionals;
  if (values.help === true || action === undefined) {
    process.stdout.write(`${USAGE}\n`);
    if (action === undefined && values.help !== true) throw new UserError(`data: say list, verify or pull (${USAGE})`);
    return;
  }
  if (extra.length > 0) throw new UserError(`data: unexpected '${extra[0]}' (${USAGE})`);
  const dataDir = resolveDataDir(values['data-dir']);
  const names = selected(values.dataset);
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };

  switch (action) {
    case 'list': {
      const manifests = names.map((n) => loadManifest(n));
      process.stdout.write(`${JSON.stringify({ data_dir: dataDir, datasets: manifests }, null, 2)}\n`);
      return;
    }
    case 'verify': {
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
      return;
    }
    case 'pull': {
      log(`data pull: into ${dataDir}`);
      let noSource = 0;
      for (const name of names) {
        const outcomes = await pullDataset(name, { dataDir, log });
        noSource += Object.values(outcomes).filter((o) => o === 'no-source').length;
      }
      if (noSource > 0) log(`data pull: ${noSource} file(s) have no download source; copy them from a mirror (FLEXIBENCH_DATA_DIR)`);
      return;
    }
    default:
      throw new UserError(`data: unknown action '${action}' (${USAGE})`);
  }
}
