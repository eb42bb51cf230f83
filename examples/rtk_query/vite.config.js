import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` serves the page from Vite and hands the API and the
// streams to rtk_query_server on port 8090, so that the page and the
// streams still share one origin (the session cookie needs it).
// `npm run build` writes dist/ (CMake passes --outDir into the build tree).
const backend = 'http://127.0.0.1:8090';

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/sseapi': backend,
      '/api': backend,
      '/admin': backend,
      '/metrics': backend,
    },
  },
});
