/**
 * Dependency law (DESIGN.md): dependencies point inwards,
 *   commands -> cli -> kernel -> {actors, services} -> {sandbox, capabilities, bus} -> ledger -> crypto -> errors
 * no cycles, and a folder is entered only through its index.ts.
 * Rank of each folder under src/; a folder may import only folders of strictly lower rank.
 */
const RANK = {
  errors: 0,
  crypto: 1,
  ledger: 2,
  topics: 2,
  protocol: 3,
  bus: 3,
  capabilities: 3,
  sandbox: 4,
  services: 5,
  actors: 6,
  kernel: 7,
  cli: 8,
};
const folders = Object.keys(RANK);
const wrongWay = folders.map((from) => {
  const forbidden = folders.filter((to) => to !== from && RANK[to] >= RANK[from]);
  return {
    name: `wrong-way-from-${from}`,
    comment: `src/${from} (rank ${RANK[from]}) may only import folders of lower rank`,
    severity: 'error',
    from: {path: `^src/${from}/`},
    to: {path: forbidden.length ? `^src/(${forbidden.join('|')})/` : '^$'},
  };
});
module.exports = {
  forbidden: [
    {name: 'no-circular', severity: 'error', from: {}, to: {circular: true}},
    ...wrongWay,
    {
      name: 'enter-through-index',
      comment: 'import another folder only through its index.ts',
      severity: 'error',
      from: {path: '^src/([^/]+)/'},
      to: {path: '^src/([^/]+)/.+', pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$']},
    },
    {
      name: 'src-not-into-commands',
      severity: 'error',
      from: {path: '^src/'},
      to: {path: '^(commands|test|bench)/'},
    },
    {
      name: 'commands-through-cli-or-kernel',
      comment: 'commands are thin: they may use src/cli and src/kernel (and shared types from src/errors)',
      severity: 'error',
      from: {path: '^commands/'},
      to: {path: '^src/(?!(cli|kernel|errors)/index\\.ts$)'},
    },
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    tsPreCompilationDeps: true,
    tsConfig: {fileName: 'tsconfig.json'},
    exclude: {path: '^(dist|node_modules)/'},
  },
};
