/**
 * The console's pages by path. `/join/:code` is the patient page (phone-sized, no sign-in); every
 * other page is for staff.
 */
export function App() {
  const path = window.location.pathname;
  if (path.startsWith('/join/')) return <main>Patient page</main>;
  return <main>VoiceCare console</main>;
}
