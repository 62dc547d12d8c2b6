// The chat template process's entry when it runs from the TypeScript sources (vitest, FLEXIBENCH_DEV=1):
// a child process does not inherit its parent's TypeScript loader, so register tsx, then load the
// script. The build in dist/ starts chat-template-process.js directly and never loads this file.
import { register } from 'tsx/esm/api';

register();
await import('./chat-template-process.ts');
