import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './apps/observability/src/adapters/db/schema.ts',
  out: './apps/observability/migrations',
});
