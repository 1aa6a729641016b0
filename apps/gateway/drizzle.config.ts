import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './apps/gateway/src/adapters/db/schema.ts',
  out: './apps/gateway/migrations',
});
