// The CSV/Parquet reader's entry when it runs from the TypeScript sources (vitest, FLEXIBENCH_DEV=1):
// worker threads do not inherit the main thread's TypeScript loader, so register tsx, then load the
// worker. The build in dist/ starts tabular-rows-worker.js directly and never loads this file.
import { register } from 'tsx/esm/api';

register();
await import('./tabular-rows-worker.ts');
