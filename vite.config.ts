import { defineConfig } from 'vite';

// The playground: a Vite app in playground/ that runs a real cluster in the page.
export default defineConfig({
  root: 'playground',
  server: { host: '127.0.0.1', port: 5173, open: false },
  build: { outDir: '../dist/playground', emptyOutDir: true },
});
