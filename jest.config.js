/** Tests are transpiled by swc (fast); types are checked once by `npm run typecheck`. */
module.exports = {
  testEnvironment: "<rootDir>/test/support/jest-environment.js",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.(t|j)sx?$": ["@swc/jest", { jsc: { target: "es2022" } }] },
  // hyparquet, hyparquet-writer (+ hyparquet-compressors' hysnappy, fzstd) and cookie (via fastify inject) ship ESM only; let swc turn them into CommonJS for jest's module loader.
  transformIgnorePatterns: ["/node_modules/(?!(hyparquet|hyparquet-compressors|hyparquet-writer|hysnappy|fzstd|cookie)/)"],
  setupFiles: ["<rootDir>/test/support/setup-env.ts"],
  globalSetup: "<rootDir>/test/support/global-setup.ts",
  testTimeout: 60000,
  maxWorkers: 2,
};
