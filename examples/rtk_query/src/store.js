import { configureStore } from '@reduxjs/toolkit';

import { sseApi } from './sseApi.js';

// The API's reducer holds the cache; its middleware runs the cache
// lifecycles (onCacheEntryAdded), without which no stream would open.
export const store = configureStore({
  reducer: { [sseApi.reducerPath]: sseApi.reducer },
  middleware: (getDefaultMiddleware) => getDefaultMiddleware().concat(sseApi.middleware),
});
