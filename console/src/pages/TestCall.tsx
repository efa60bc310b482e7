export function TestCallPage() {
  return <h1>TestCall</h1>;
}
