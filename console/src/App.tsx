/**
 * The console's pages by path. `/join/:code` is the patient page (phone-sized, no sign-in); every
 * other page is for staff, inside the staff shell (navigation, sign-in guard). The API serves
 * index.html at each of these paths (api/console-pages.ts), so a new page here needs its path
 * there too.
 */
import { lazy, Suspense } from 'react';
import { BrowserRouter, Route, Routes } from 'react-router-dom';
import { DashboardPage } from './pages/Dashboard.tsx';
import { LoginPage } from './pages/Login.tsx';
import { LogsPage } from './pages/Logs.tsx';
import { EducationPage } from './pages/Education.tsx';
import { KnowledgePage } from './pages/Knowledge.tsx';
import { PatientPage } from './pages/Patient.tsx';
import { ListenPage } from './pages/Listen.tsx';
import { TestCallPage } from './pages/TestCall.tsx';
import { StaffShell } from './staff/Shell.tsx';
import { Loading } from './ui/Status.tsx';

// The editor (CodeMirror) is most of the bundle: only the setup page loads it.
const SetupPage = lazy(() => import('./pages/Setup.tsx').then((m) => ({ default: m.SetupPage })));

export function App() {
  return (
    <BrowserRouter>
      <Routes>
        <Route path="/join/:code" element={<PatientPage />} />
        <Route path="/listen/:token" element={<ListenPage />} />
        <Route path="/login" element={<LoginPage />} />
        <Route element={<StaffShell />}>
          <Route path="/" element={<DashboardPage />} />
          <Route
            path="/setup/*"
            element={
              <Suspense fallback={<Loading label="Loading the editor…" />}>
                <SetupPage />
              </Suspense>
            }
          />
          <Route path="/test" element={<TestCallPage />} />
          <Route path="/logs/*" element={<LogsPage />} />
          <Route path="/knowledge" element={<KnowledgePage />} />
          <Route path="/education" element={<EducationPage />} />
        </Route>
      </Routes>
    </BrowserRouter>
  );
}
