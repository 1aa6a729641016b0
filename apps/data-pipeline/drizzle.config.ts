import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './apps/data-pipeline/src/adapters/db/schema.ts',
  out: './apps/data-pipeline/migrations',
});
