/// <reference types="vitest/config" />
import { defineConfig } from "vite";

// The API for `npm run dev` (proxied, so the browser sees one origin like in production).
const api = process.env.C360_API ?? "http://127.0.0.1:8360";

export default defineConfig({
  // React's automatic JSX runtime through esbuild: no Babel plugin needed (no fast refresh; a full reload is fine).
  esbuild: { jsx: "automatic" },
  base: "./",
  server: {
    host: "127.0.0.1",
    port: 5173,
    proxy: { "/graphql": { target: api, changeOrigin: true, ws: true } },
  },
  preview: { host: "127.0.0.1", proxy: { "/graphql": { target: api, changeOrigin: true, ws: true } } },
  build: {
    outDir: "dist",
    sourcemap: false,
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      onwarn(warning, warn) {
        // React Router and lucide mark modules "use client" for server components; irrelevant in a SPA bundle.
        if (warning.code === "MODULE_LEVEL_DIRECTIVE") return;
        warn(warning);
      },
    },
  },
  test: {
    environment: "jsdom",
    globals: true,
    include: ["tests/**/*.test.tsx", "tests/**/*.test.ts"],
    setupFiles: ["tests/setup.ts"],
    css: false,
  },
});
