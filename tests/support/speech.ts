// Re-export shim: the speech helpers now live in sim/speech.ts (product code, used by
// `npm run call` and the benchmarks too). Kept only so test files written against this path
// keep working; import from '../sim/speech.ts' in new code.
export * from '../../sim/speech.ts';
