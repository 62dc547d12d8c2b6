/**
 * Import rules (`npm run lint`). Folders form layers and import only downward, so no two folders can
 * import each other, even through different modules:
 *   src/*.ts (base) <- src/scoring, src/tokenizer, src/model <- datasets <- src/suites <- src/store <- reports <- harness
 * test/ may import anything; nothing imports test/. The three folders of the second layer are
 * independent of each other: if one comes to need another, give them an order here.
 */
/** Each folder's rank: a folder imports only folders of lower rank. Equal ranks may not import each other. */
const LAYERS = [
  { name: 'base', path: '^src/[^/]+\\.ts$', rank: 0 },
  { name: 'scoring', path: '^src/scoring/', rank: 1 },
  { name: 'tokenizer', path: '^src/tokenizer/', rank: 1 },
  { name: 'model', path: '^src/model/', rank: 1 },
  { name: 'datasets', path: '^datasets/', rank: 2 },
  { name: 'suites', path: '^src/suites/', rank: 3 },
  { name: 'store', path: '^src/store/', rank: 4 },
  { name: 'reports', path: '^reports/', rank: 5 },
  { name: 'harness', path: '^harness/', rank: 6 },
];

const downwardOnly = LAYERS.map((from) => ({
  name: `layer-${from.name}`,
  comment: `${from.name} imports only folders below it (see the order at the top of .dependency-cruiser.cjs)`,
  severity: 'error',
  from: { path: from.path },
  to: { path: LAYERS.filter((to) => to !== from && to.rank >= from.rank).map((to) => to.path) },
})).filter((rule) => rule.to.path.length > 0);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'modules that import each other (directly or through others) cannot be understood or tested alone',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...downwardOnly,
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
      from: { path: '^(src|harness|datasets|reports)/' },
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
