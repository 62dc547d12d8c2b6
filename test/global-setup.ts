// Every test's temporary folders go under one root, removed when the run ends: test files make
// theirs with mkdtemp(os.tmpdir()), and a file that fails, or forgets, would leave them behind on
// every run. Worker processes start after this and inherit TMPDIR.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'flexibench-tests-'));
  // As /tmp is: some tests run the CLI as another user (nobody), in folders they make here.
  chmodSync(root, 0o1777);
  process.env['TMPDIR'] = root;
  return () => rmSync(root, { recursive: true, force: true });
}
