import { describe, expect, it } from 'vitest';
import { loadConfig } from '../infra/config.ts';
import { USAGE, main, type CliIo } from './cli.ts';

/** Runs the CLI in-process with captured output. Nothing here touches MongoDB or audio. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => (out += t),
    err: (t) => (err += t),
    cwd: new URL('..', import.meta.url).pathname,
    config: () => loadConfig({}),
  };
  const code = await main(args, io);
  return { code, out, err };
}

describe('voicecare prompts (in process)', () => {
  it('prints help on --help and exits 0', async () => {
    const r = await run(['prompts', '--help']);
    expect(r).toEqual({ code: 0, out: USAGE, err: '' });
  });

  it.each([
    [[], 'Usage: voicecare <area> <command>'],
    [['patients'], "unknown area 'patients'"],
    [['prompts'], 'Usage: voicecare prompts'],
    [['prompts', 'frobnicate'], "unknown command 'frobnicate'"],
    [['prompts', 'render'], 'render needs exactly one <id|file>'],
    [['prompts', 'render', 'a', 'b'], 'render needs exactly one <id|file>'],
    [['prompts', 'preview', 'intake'], 'preview needs --out FILE.wav'],
    [['prompts', 'publish', 'intake', '--note', 'x'], 'publish needs --author NAME'],
    [['prompts', 'publish', 'intake', '--author', 'x'], 'publish needs --note TEXT'],
    [['prompts', 'render', 'intake', '--out', 'x.wav'], 'render does not take --out'],
    [['prompts', 'diff', 'intake', '1'], 'diff needs <id> <v1> <v2>'],
    [['prompts', 'list', 'a', 'b'], 'list takes at most one profile id'],
    [['prompts', 'validate', '--colour'], "Unknown option '--colour'"],
  ])('exits 2 with a clear message for %j', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });

  it('exits 1 and lists the profiles there are for an unknown id', async () => {
    const r = await run(['prompts', 'render', 'intak']);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      "no profile 'intak' in prompts (there are: intake, medication-adherence, post-discharge)\n",
    );
  });

  it('validates the real profiles', async () => {
    const r = await run(['prompts', 'validate']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('all 3 profiles valid');
  });

  it('renders the protocol questions with their capture types', async () => {
    const r = await run(['prompts', 'render', 'post-discharge', '--name', 'Mr. Okafor']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Hi Mr. Okafor, this is the virtual assistant from your care team.');
    expect(r.out).toContain('1. [overallFeeling: choice: better | about the same | worse]');
    expect(r.out).toContain('5. [followUpDate: date] (confirmed)');
  });
});
