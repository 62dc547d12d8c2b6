/**
 * Import rules (`npm run lint`), written as what each folder may import. The source folders are
 * package.json's `sourceLayers`, lowest first; each imports only the folders before it:
 *   src <- datasets <- tasks <- reports <- harness
 * Inside src, the same holds between its parts:
 *   src/*.ts (base) <- src/scoring, src/tokenizer, src/model <- src/store
 * where the three parts of the middle rank are independent of each other. test/ (the tests) and
 * perf/ (the measurement scripts docs/performance.md cites) are not layers: they may import any
 * layer, and nothing imports them (perf/ not test/ either: rule not-to-test). docs/design.md states
 * the same rules in words.
 */
const { sourceLayers } = require('./package.json');

/** Each folder's rank: a folder imports only folders of lower rank. Equal ranks may not import each other. */
const FOLDERS = sourceLayers.map((name, rank) => ({ name, path: `^${name}/`, rank }));
const SRC_PARTS = [
  { name: 'src base', path: '^src/[^/]+\\.ts$', rank: 0 },
  { name: 'src/scoring', path: '^src/scoring/', rank: 1 },
  { name: 'src/tokenizer', path: '^src/tokenizer/', rank: 1 },
  { name: 'src/model', path: '^src/model/', rank: 1 },
  { name: 'src/store', path: '^src/store/', rank: 2 },
];

/** One rule per layer: what is at its rank or above is not to be imported from it. */
const downwardOnly = (layers, where) =>
  layers
    .map((from) => ({
      name: `layer-${from.name.replace(/[ /]/g, '-')}`,
      comment: `${from.name} imports only what is below it (${where})`,
      severity: 'error',
      from: { path: from.path },
      to: { path: layers.filter((to) => to !== from && to.rank >= from.rank).map((to) => to.path) },
    }))
    .filter((rule) => rule.to.path.length > 0);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'modules that import each other (directly or through others) cannot be understood or tested alone',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...downwardOnly(FOLDERS, "package.json's sourceLayers"),
    ...downwardOnly(SRC_PARTS, 'the order of src at the top of .dependency-cruiser.cjs'),
    {
      name: 'no-command-imports-command',
      comment: 'a command shares code through harness/ or the layers below, not through another command',
      severity: 'error',
      from: { path: '^harness/commands/([^/]+)\\.ts$' },
      to: { path: '^harness/commands/', pathNot: '^harness/commands/$1\\.ts$' },
    },
    {
      name: 'not-to-test',
      comment: 'the program does not depend on its tests or their fixtures',
      severity: 'error',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that resolves to no file or package',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'not-to-dev-dep',
      comment: 'devDependencies are absent where the package is installed for use (npm ci --omit=dev)',
      severity: 'error',
      from: { path: FOLDERS.map((f) => f.path) },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-non-package-json',
      comment: 'a package imported but not declared in package.json works only by accident of hoisting',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    // Type-only imports count: a folder cycle through types is still a cycle in the design.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
