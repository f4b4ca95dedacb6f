import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/compile-sources-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Network tests bind distinct 127.x addresses, but timing-sensitive ones must not fight for the 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
