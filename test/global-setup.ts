// Every test's temporary folders go under one root, removed when the run ends: test files make
// theirs with mkdtemp(os.tmpdir()), and a file that fails, or forgets, would leave them behind on
// every run. Worker processes start after this and inherit TMPDIR.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'flexibench-tests-'));
  process.env['TMPDIR'] = root;
  return () => rmSync(root, { recursive: true, force: true });
}
