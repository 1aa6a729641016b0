// Shared Jest settings for every project: SWC transform (fast, no type-check; `npm run typecheck`
// does that), tsconfig path aliases, Node environment.
const path = require('node:path');

const root = __dirname;

const moduleNameMapper = {
  '^@aion/testing/(.*)$': path.join(root, 'libs/testing/src/$1'),
  '^@aion/([a-z-]+)$': path.join(root, 'libs/$1/src/index.ts'),
};

const ESM_ONLY = [
  '@kubernetes/client-node',
  'openid-client',
  'oauth4webapi',
  'jsonpath-plus',
  'jose',
];

/** Unit tests live beside the code (`*.spec.ts`); integration tests under `test/integration`. */
function projectConfig(projectDir, name, kind = 'unit') {
  const testMatch =
    kind === 'unit'
      ? ['<rootDir>/src/**/*.spec.ts', '<rootDir>/tools/**/*.spec.ts']
      : ['<rootDir>/test/integration/**/*.int.spec.ts'];
  return {
    displayName: name,
    rootDir: projectDir,
    testEnvironment: 'node',
    testMatch,
    transform: {
      '^.+\\.(t|j)s$': [
        '@swc/jest',
        {
          swcrc: false,
          jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
          module: { type: 'commonjs' },
        },
      ],
    },
    // @kubernetes/client-node ships ES modules only; compile it (and its ESM-only dependencies)
    // to CommonJS like the sources, since Jest on Node 20 cannot require() ES modules.
    transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
    moduleNameMapper,
    moduleFileExtensions: ['ts', 'js', 'json'],
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  };
}

module.exports = { projectConfig, moduleNameMapper };
