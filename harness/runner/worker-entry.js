// The worker's entry when the pool runs from the TypeScript sources (vitest, FLEXIBENCH_DEV=1):
// worker threads do not inherit the main thread's TypeScript loader, so register tsx, then load the
// worker. The build in dist/ starts worker.js directly and never loads this file.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
