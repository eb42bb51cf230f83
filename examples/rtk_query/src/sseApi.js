import { createApi, fakeBaseQuery } from '@reduxjs/toolkit/query/react';

// Events the page keeps per company, for its list (the last event alone is
// what the notes keep; the list shows that none is lost or repeated).
const KEEP_EVENTS = 20;

// Why a stream the browser gave up on (readyState CLOSED) was refused: the
// EventSource API hides the status, so ask the server who we are.
async function refusalReason() {
  try {
    const answer = await fetch('/api/session');
    if (answer.status === 401) return 'not signed in (401)';
    if (answer.ok) return `signed in as ${(await answer.json()).user}, yet refused; see the server's log`;
    return `the session check answered ${answer.status}`;
  } catch {
    return 'the server cannot be reached';
  }
}

// One cache entry per company; the entry's lifetime is the stream's.
export const sseApi = createApi({
  reducerPath: 'sseApi',
  // Nothing is fetched: the data comes from the stream.
  baseQuery: fakeBaseQuery(),
  endpoints: (builder) => ({
    getCompanyMenuUpdates: builder.query({
      // Seeds the cache entry, so that the component has data at once and
      // onCacheEntryAdded's cacheDataLoaded resolves.
      queryFn: () => ({ data: { type: 'MENU_UPDATE_UNINITIALIZED' } }),
      async onCacheEntryAdded(companyId, { updateCachedData, cacheDataLoaded, cacheEntryRemoved }) {
        // The page's own origin: the session cookie goes along, and no CORS
        // is involved. withCredentials matters only if the stream moves to
        // another origin.
        const eventSource = new EventSource(`${window.location.origin}/sseapi/crm/sse-emitter/${companyId}`, {
          withCredentials: true,
        });
        try {
          // Nothing can be written to the entry before it exists.
          await cacheDataLoaded;
          eventSource.addEventListener('open', () => {
            updateCachedData((draft) => {
              draft.stream = 'open';
            });
          });
          eventSource.addEventListener('error', async () => {
            // CONNECTING: the browser reconnects by itself, with
            // Last-Event-ID. CLOSED: it gave up (the server answered with
            // an error status), and says nothing more: find out why.
            if (eventSource.readyState !== EventSource.CLOSED) {
              updateCachedData((draft) => {
                draft.stream = 'reconnecting';
              });
              return;
            }
            const reason = await refusalReason();
            updateCachedData((draft) => {
              draft.stream = 'refused';
              draft.refusal = `Stream refused: ${reason}`;
            });
          });
          eventSource.addEventListener('MENU_UPDATE_END', (event) => {
            const { companyId, courseId, courseName } = JSON.parse(event.data);
            updateCachedData((draft) => {
              Object.assign(draft, {
                companyId,
                courseId,
                courseName,
                lastEventId: event.lastEventId,
                timeStamp: event.timeStamp,
                type: event.type,
              });
              (draft.received ??= []).push({ id: event.lastEventId, companyId, courseName });
              if (draft.received.length > KEEP_EVENTS) draft.received.shift();
            });
          });
        } catch {
          // The entry went before its data arrived: just close below.
        }
        // Resolves when the entry leaves the cache: here, when the panels
        // unmount and reset the API state.
        await cacheEntryRemoved;
        eventSource.close();
      },
    }),
  }),
});

export const { useGetCompanyMenuUpdatesQuery } = sseApi;
