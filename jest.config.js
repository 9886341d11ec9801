/** Tests are transpiled by swc (fast); types are checked once by `npm run typecheck`. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.(t|j)sx?$": ["@swc/jest", { jsc: { target: "es2022" } }] },
  // hyparquet and cookie (via fastify inject) ship ESM only; let swc turn them into CommonJS for jest's module loader.
  transformIgnorePatterns: ["/node_modules/(?!(hyparquet|hyparquet-compressors|cookie)/)"],
  setupFiles: ["<rootDir>/test/support/setup-env.ts"],
  globalSetup: "<rootDir>/test/support/global-setup.ts",
  testTimeout: 60000,
  maxWorkers: 2,
};
