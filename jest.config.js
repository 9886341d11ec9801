/** Tests are transpiled by swc (fast); types are checked once by `npm run typecheck`. */
module.exports = {
  testEnvironment: "<rootDir>/test/support/jest-environment.js",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.(t|j)sx?$": ["@swc/jest", { jsc: { target: "es2022" } }] },
  // hyparquet and hyparquet-writer (+ the compressors' hysnappy, fzstd) ship ESM only; let swc turn them into CommonJS for jest's module loader.
  transformIgnorePatterns: ["/node_modules/(?!(hyparquet|hyparquet-compressors|hyparquet-writer|hysnappy|fzstd)/)"],
  setupFiles: ["<rootDir>/test/support/setup-env.ts"],
  globalSetup: "<rootDir>/test/support/global-setup.ts",
  testTimeout: 60000,
  maxWorkers: 2,
  // Each test file loads the provider bindings afresh (jest's per-file module registry), so a worker's heap grows to
  // ~550 MB, mostly garbage (116-415 MB after a forced GC), by the end of the run. Jest then printed "a worker process
  // has failed to exit gracefully" although no handle or worker thread was left open after any file; with workers
  // recycled past this size the warning is gone, at a few seconds per run.
  workerIdleMemoryLimit: "400MB",
};
