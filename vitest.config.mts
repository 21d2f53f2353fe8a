import { defineConfig } from 'vitest/config';

// Tests start real processes and coordinators; each file cleans up its own.
// Two cores: keep file-level parallelism modest.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
  },
});
