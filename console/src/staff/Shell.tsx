/**
 * The staff pages' frame: the header with the navigation and who is signed in, and the guard
 * that sends anyone without a usable token to /login (and back there when the API refuses it).
 */
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { Navigate, NavLink, Outlet, useLocation, useNavigate } from 'react-router-dom';
import { setStaffToken, SIGNED_OUT_EVENT } from '../api.ts';
import { authConfig, currentUser, type StaffUser } from './auth.ts';
import './staff.css';

const UserContext = createContext<StaffUser | null>(null);

/** The signed-in user (inside the shell there always is one). */
export function useStaffUser(): StaffUser | null {
  return useContext(UserContext);
}

export function StaffFrame({ children }: { children: ReactNode }) {
  return <div className="staff-app">{children}</div>;
}

export function StaffShell() {
  const location = useLocation();
  const navigate = useNavigate();
  const [rolesClaim, setRolesClaim] = useState<string | undefined>();
  const [signedOut, setSignedOut] = useState(false);
  const user = useMemo(
    () => (signedOut ? null : currentUser(rolesClaim)),
    // Re-read on navigation too: a token can expire while the page is open.
    [rolesClaim, signedOut, location.pathname],
  );

  useEffect(() => {
    authConfig().then(
      (c) => setRolesClaim(c.rolesClaim),
      () => undefined,
    );
  }, []);

  useEffect(() => {
    // The render below then sends the user to sign in, saying why.
    const onSignedOut = () => setSignedOut(true);
    window.addEventListener(SIGNED_OUT_EVENT, onSignedOut);
    return () => window.removeEventListener(SIGNED_OUT_EVENT, onSignedOut);
  }, []);

  if (!user) {
    const state = {
      from: location.pathname + location.search,
      ...(signedOut ? { reason: 'expired' } : {}),
    };
    return <Navigate to="/login" replace state={state} />;
  }

  const signOut = () => {
    setStaffToken(null);
    void navigate('/login', { replace: true, state: { reason: 'signed-out' } });
  };
  const role = user.roles.includes('admin') ? 'Admin' : user.roles.length ? 'Clinician' : 'No role';

  return (
    <UserContext.Provider value={user}>
      <StaffFrame>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="topbar">
          <div className="brand">
            <span className="brand-mark" aria-hidden="true">
              VC
            </span>
            <span className="brand-name">VoiceCare</span>
          </div>
          <nav aria-label="Main" className="mainnav">
            <NavLink to="/" end>
              Dashboard
            </NavLink>
            <NavLink to="/setup">Agent setup</NavLink>
            <NavLink to="/test">Patient test</NavLink>
            <NavLink to="/logs">Conversation logs</NavLink>
            <NavLink to="/knowledge">Knowledge</NavLink>
            <NavLink to="/education">Education audio</NavLink>
          </nav>
          <div className="whoami">
            <span className="whoami-name" data-testid="user-name">
              {user.name ?? 'Signed in'}
            </span>
            <span className={`badge role-${role.toLowerCase()}`} data-testid="user-role">
              {role}
            </span>
            <button type="button" className="btn btn-quiet" onClick={signOut}>
              Sign out
            </button>
          </div>
        </header>
        <main id="main" className="page">
          <Outlet />
        </main>
      </StaffFrame>
    </UserContext.Provider>
  );
}
