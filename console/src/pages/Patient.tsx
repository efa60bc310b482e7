export function PatientPage() {
  return <h1>Patient</h1>;
}
