import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './apps/module-host/src/adapters/db/schema.ts',
  out: './apps/module-host/migrations',
});
