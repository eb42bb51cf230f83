import { useEffect, useState } from 'react';

import Panels from './Panels.jsx';

// Who is signed in, as the server's session cookie says: undefined while
// asking, null when nobody.
function useSession() {
  const [user, setUser] = useState(undefined);
  useEffect(() => {
    fetch('/api/session')
      .then((answer) => (answer.ok ? answer.json() : { user: null }))
      .then((body) => setUser(body.user))
      .catch(() => setUser(null));
  }, []);
  return [user, setUser];
}

function LoginForm({ onLogin }) {
  const [name, setName] = useState('');
  const [error, setError] = useState('');
  async function submit(e) {
    e.preventDefault();
    // Form-encoded, as an HTML form posts it; the answer sets the cookie.
    const answer = await fetch('/api/login', { method: 'POST', body: new URLSearchParams({ user: name }) });
    const body = await answer.json();
    if (answer.ok) onLogin(body.user);
    else setError(body.error);
  }
  return (
    <form className="login" onSubmit={submit}>
      <input data-testid="login-user" placeholder="user name" value={name} onChange={(e) => setName(e.target.value)} />
      <button type="submit" data-testid="login-submit">
        Sign in
      </button>
      {error && <span className="error">{error}</span>}
    </form>
  );
}

export default function App() {
  const [user, setUser] = useSession();
  const [mounted, setMounted] = useState(true);
  async function logout() {
    await fetch('/api/logout', { method: 'POST' });
    setUser(null);
  }
  return (
    <main>
      <header>
        <h1>Menu updates</h1>
        <p className="session" data-testid="session">
          {user === undefined ? '...' : user ? `Signed in as ${user}` : 'Not signed in'}
        </p>
        {user === null && <LoginForm onLogin={setUser} />}
        {user && (
          <button data-testid="logout" onClick={logout}>
            Sign out
          </button>
        )}
        <button data-testid="toggle-panels" onClick={() => setMounted(!mounted)}>
          {mounted ? 'Unmount panels' : 'Mount panels'}
        </button>
        <a href="/admin" target="_blank" rel="noreferrer">
          admin: publish
        </a>
      </header>
      {/* Keyed by the user: signing in or out mounts the panels afresh, and
          their unmount empties the cache, so the streams reopen with the
          new cookie (a refused EventSource never retries by itself). */}
      {mounted && user !== undefined && <Panels key={user ?? ''} />}
    </main>
  );
}
