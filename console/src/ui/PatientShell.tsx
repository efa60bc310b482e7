/** The frame of every page a patient sees: the brand bar and one narrow, phone-first column. */
import type { ReactNode } from 'react';
import '../pages/Patient.css';

export function PatientShell({ children }: { children: ReactNode }) {
  return (
    <div className="patient">
      <header className="patient__header">
        <p className="patient__brand">VoiceCare</p>
      </header>
      <main className="patient__main">{children}</main>
    </div>
  );
}
