import { createRoot } from 'react-dom/client';
import { Provider } from 'react-redux';

import App from './App.jsx';
import { store } from './store.js';
import './style.css';

// No <StrictMode>: in development it mounts every component twice, and the
// panels' unmount resets the API state (see Panels.jsx), which would close
// the streams it had just opened.
createRoot(document.getElementById('root')).render(
  <Provider store={store}>
    <App />
  </Provider>,
);
