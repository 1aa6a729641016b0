import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './apps/sovereign-ai/src/adapters/db/schema.ts',
  out: './apps/sovereign-ai/migrations',
});
