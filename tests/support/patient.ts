// Re-export shim: the simulated patient now lives in sim/patient.ts (product code, used by
// `npm run call` and the benchmarks too). Kept only so test files written against this path
// keep working; import from '../sim/patient.ts' in new code.
export * from '../../sim/patient.ts';
