import { readFileSync } from 'node:fs';
import { defineConfig } from 'vite';

// The event types a webhook endpoint can subscribe to, from the same OpenAPI document the types
// come from (its `webhooks`), so the form never offers a name the API would refuse.
const openapi = JSON.parse(readFileSync(new URL('../api/openapi.json', import.meta.url), 'utf8'));
const eventTypes = Object.keys(openapi.webhooks ?? {}).sort();
if (eventTypes.length === 0) throw new Error('../api/openapi.json lists no webhooks: run `make openapi`');

// Preact through Vite's own JSX transform: no framework plugin to pin or to lag behind Vite.
export default defineConfig({
  define: { __EVENT_TYPES__: JSON.stringify(eventTypes) },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
  // `npm run dev` (hot reload) talks to the `make dev` runtime; the built app needs no proxy.
  server: { proxy: { '/v1': 'http://127.0.0.1:3000' } },
});
