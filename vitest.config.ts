import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

/**
 * The whole suite runs twice, once per engine (but for `*.sqlite.test.ts` and
 * `*.postgres.test.ts`, about what only that engine has): the `sqlite` and `postgres`
 * projects differ only in ONBOARD_TEST_ENGINE, which test/databases.ts reads
 * (freshDatabase) and test/global-setup.ts acts on (the postgres project's
 * template database). `npx vitest run --project sqlite` runs one of them.
 *
 * Both projects run at the same time, their files sharing one pool of
 * workers. Vitest's default on a run is one worker fewer than the cores (one
 * worker on a 2-core machine); most files spend their time waiting on server
 * processes, browsers and PostgreSQL rather than computing, so the pool is
 * as large as the machine has cores, and at least 2. VITEST_MAX_WORKERS or
 * --maxWorkers overrides it.
 */
const engines = ["sqlite", "postgres"] as const;

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    maxWorkers: Math.max(2, availableParallelism()),
    projects: engines.map((engine) => ({
      extends: true,
      test: {
        name: engine,
        env: { ONBOARD_TEST_ENGINE: engine },
        // A behaviour that exists on one engine only lives in a file named for it.
        exclude: [`**/*.${engines.find((other) => other !== engine)}.test.ts`, "**/node_modules/**"],
        globalSetup: ["test/global-setup.ts"],
      },
    })),
  },
});
