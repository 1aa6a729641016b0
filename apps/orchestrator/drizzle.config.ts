import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './apps/orchestrator/src/adapters/db/schema.ts',
  out: './apps/orchestrator/migrations',
});
