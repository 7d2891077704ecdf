/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";

// The webapp is served on one origin with the API and Kratos (docs/webapp.md):
// the local proxy (go tool mage dev:up / dev:watch) or nginx in a cluster.
// In dev:watch the proxy forwards / to this dev server; its HMR websocket
// goes through the proxy too, so no port of Vite's own reaches the browser.
export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    host: "127.0.0.1",
    strictPort: true,
  },
  build: {
    target: "es2022",
    sourcemap: true,
    // Hashed file names under assets/: the proxy and nginx cache them for a
    // year; index.html is never cached.
    assetsDir: "assets",
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
  },
});
