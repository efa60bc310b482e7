/**
 * Sign-in. Locally: paste a dev token (`npm run token -- --role clinician`). In production, when
 * the API advertises an OIDC client: "Sign in with your organisation" (authorization code +
 * PKCE), and the issuer sends the browser back here with a code to exchange.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useLocation, useNavigate } from 'react-router-dom';
import { api, ApiError, setStaffToken } from '../api.ts';
import {
  authConfig,
  finishOidcSignIn,
  startOidcSignIn,
  userFromToken,
  type AuthConfig,
} from '../staff/auth.ts';
import { StaffFrame } from '../staff/Shell.tsx';
import { plainError } from '../ui/Status.tsx';
import { useDocumentTitle } from '../ui/hooks.ts';

interface LoginState {
  from?: string;
  reason?: 'expired' | 'signed-out';
}

export function LoginPage() {
  useDocumentTitle('Sign in');
  const location = useLocation();
  const navigate = useNavigate();
  const state = (location.state ?? {}) as LoginState;
  const returnTo = state.from && state.from !== '/login' ? state.from : '/';
  const [config, setConfig] = useState<AuthConfig | null>(null);
  const [configError, setConfigError] = useState<unknown>(null);
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const finishing = useRef(false);

  useEffect(() => {
    authConfig().then(setConfig, setConfigError);
  }, []);

  // Back from the issuer with ?code=…&state=…
  useEffect(() => {
    const params = new URLSearchParams(location.search);
    if (!config?.oidc || finishing.current) return;
    if (!params.has('code') && !params.has('error')) return;
    finishing.current = true;
    setBusy(true);
    finishOidcSignIn(config.oidc, params).then(
      (to) => void navigate(to, { replace: true }),
      (err: unknown) => {
        setBusy(false);
        setError(plainError(err));
        void navigate('/login', { replace: true });
      },
    );
  }, [config, location.search, navigate]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const value = token.trim().replace(/^Bearer\s+/i, '');
    const user = userFromToken(value, config?.rolesClaim);
    if (!user) {
      setError('That does not look like a staff token, or it has expired. Make a new one.');
      return;
    }
    if (!user.roles.length) {
      setError('That token has no staff role (clinician or admin).');
      return;
    }
    setBusy(true);
    try {
      // Ask the API, which is the judge: a signature it does not trust is refused here.
      await api('/v1/profiles', { headers: { authorization: `Bearer ${value}` } });
      setStaffToken(value);
      void navigate(returnTo, { replace: true });
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'The API did not accept that token. It may be from another machine or expired.'
          : plainError(err),
      );
    } finally {
      setBusy(false);
    }
  };

  const oidc = config?.oidc;
  return (
    <StaffFrame>
      <main id="main" className="login">
        <div className="login-card">
          <div className="brand brand-large">
            <span className="brand-mark" aria-hidden="true">
              VC
            </span>
            <span className="brand-name">VoiceCare</span>
          </div>
          <h1>Sign in to the clinician console</h1>
          {state.reason === 'expired' ? (
            <p className="note note-warn" role="status">
              Your session has ended. Please sign in again.
            </p>
          ) : null}
          {state.reason === 'signed-out' ? (
            <p className="note" role="status">
              You have signed out.
            </p>
          ) : null}
          {configError ? (
            <p className="note note-error" role="alert">
              We could not reach the API: {plainError(configError)}
            </p>
          ) : null}

          {oidc ? (
            <div className="login-oidc">
              <button
                type="button"
                className="btn btn-primary btn-block"
                disabled={busy}
                onClick={() => void startOidcSignIn(oidc, returnTo)}
              >
                Sign in with your organisation
              </button>
              <p className="hint">
                You will be sent to {new URL(oidc.authorizeUrl).host} and back.
              </p>
            </div>
          ) : null}

          {!oidc || config?.mode === 'dev' ? (
            <form onSubmit={(e) => void submit(e)} className="login-form">
              <label htmlFor="token">Staff token</label>
              <textarea
                id="token"
                name="token"
                rows={4}
                spellCheck={false}
                autoComplete="off"
                placeholder="eyJhbGciOi…"
                value={token}
                onChange={(e) => setToken(e.target.value)}
                aria-describedby="token-help"
              />
              <p id="token-help" className="hint">
                On this machine, make one in the repository with{' '}
                <code>npm run token -- --role clinician</code> (or <code>--role admin</code> to
                publish profiles) and paste it here. It stays in this browser tab only.
              </p>
              {error ? (
                <p className="note note-error" role="alert" data-testid="login-error">
                  {error}
                </p>
              ) : null}
              <button
                type="submit"
                className="btn btn-primary btn-block"
                disabled={busy || !token.trim()}
              >
                {busy ? 'Checking…' : 'Sign in'}
              </button>
            </form>
          ) : error ? (
            <p className="note note-error" role="alert" data-testid="login-error">
              {error}
            </p>
          ) : null}
        </div>
      </main>
    </StaffFrame>
  );
}
