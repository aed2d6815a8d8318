import react from "@vitejs/plugin-react"
import { defineConfig } from "vite"

/**
 * The console is static files: built once (`pnpm --dir packages/web build`), served at `/` by
 * the edge (`EDGE_WEB_DIR`) or by its own container. It calls the APIs on the same origin, so
 * nothing here knows where the services are.
 */
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
    // One page: React, connect-web and Effect's Schema and HttpApi client come to about 570 kB
    // (175 kB gzipped), loaded once and cached by hash.
    chunkSizeWarningLimit: 800,
  },
})
