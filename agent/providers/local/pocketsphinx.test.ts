import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APITimeoutError } from '@livekit/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalEngineMissingError } from './errors.ts';
import {
  PocketsphinxDecoder,
  type PocketsphinxPaths,
  assertPocketsphinxInstalled,
  parseHypseg,
  pocketsphinxDefaults,
} from './pocketsphinx.ts';

describe('pocketsphinx -hypseg output', () => {
  it('gives the words with their frames and scores, without fillers or pronunciation tags', () => {
    const line =
      'utt-1 S 0 T -2598 A -1924 L -674 0 -451 -337 <sil> 22 -1112 0 one(2) 56 -80 0 ' +
      '(NULL) 56 -361 -337 hundred 90 -20 0 [NOISE] 107';
    expect(parseHypseg(line)).toEqual({
      acousticScore: -1924,
      frames: 107,
      words: [
        { word: 'one', startFrame: 22, endFrame: 56, acousticScore: -1112 },
        { word: 'hundred', startFrame: 56, endFrame: 90, acousticScore: -361 },
      ],
    });
  });

  it('reads an empty result as no words', () => {
    expect(parseHypseg('utt-1 S 0 T 0 A 0 L 0 0')).toEqual({
      acousticScore: 0,
      frames: 0,
      words: [],
    });
  });

  it('rejects anything else', () => {
    expect(parseHypseg('')).toBeUndefined();
    expect(parseHypseg('FATAL: "batch.c", line 815: Failed to open control file')).toBeUndefined();
  });
});

describe('pocketsphinx installation check', () => {
  it('names the package to install when the binary is missing', () => {
    const paths = { ...pocketsphinxDefaults, binary: '/nonexistent/pocketsphinx_batch' };
    expect(() => assertPocketsphinxInstalled(paths)).toThrow(LocalEngineMissingError);
    expect(() => new PocketsphinxDecoder({ paths })).toThrow(
      /^pocketsphinx is not installed \(no \/nonexistent\/pocketsphinx_batch\): apt-get install pocketsphinx pocketsphinx-en-us/,
    );
  });

  it('names the model package when the model is missing', () => {
    const paths = { ...pocketsphinxDefaults, binary: '/bin/sh', dictionary: '/nonexistent/dict' };
    try {
      assertPocketsphinxInstalled(paths);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(LocalEngineMissingError);
      expect((err as LocalEngineMissingError).packages).toEqual(['pocketsphinx-en-us']);
      expect((err as Error).message).not.toContain('\n');
    }
  });
});

describe('pocketsphinx decoder processes (stand-in binary)', () => {
  let dir: string;
  let paths: PocketsphinxPaths;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pocketsphinx-test-'));
    await mkdir(join(dir, 'model'));
    await writeFile(join(dir, 'model', 'mdef'), '');
    await writeFile(join(dir, 'dict'), '');
    await writeFile(join(dir, 'lm'), '');
    paths = {
      binary: join(dir, 'pocketsphinx_batch'),
      acousticModel: join(dir, 'model'),
      dictionary: join(dir, 'dict'),
      languageModel: join(dir, 'lm'),
    };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A stand-in that records its pid, then runs `body`. */
  async function standIn(body: string): Promise<void> {
    await rm(join(dir, 'pid'), { force: true });
    await writeFile(paths.binary, `#!/bin/bash\necho $$ > ${join(dir, 'pid')}\n${body}\n`);
    await chmod(paths.binary, 0o755);
  }

  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it('kills a decode that overruns its timeout, and cleans up its files', async () => {
    await standIn('exec sleep 30');
    const tempDir = await mkdtemp(join(dir, 'work-'));
    const decoder = new PocketsphinxDecoder({ paths, timeoutMs: 200, tempDir });
    await expect(decoder.decode(new Int16Array(1600), { kind: 'lm' })).rejects.toThrow(
      APITimeoutError,
    );
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
    expect(alive(pid)).toBe(false);
    const [work] = await readdir(tempDir);
    expect(await readdir(join(tempDir, work ?? ''))).toEqual([]);
    await decoder.close();
    expect(await readdir(tempDir)).toEqual([]);
  });

  it('kills a decode when the caller aborts', async () => {
    await standIn('exec sleep 30');
    const decoder = new PocketsphinxDecoder({ paths });
    const controller = new AbortController();
    const pending = decoder.decode(new Int16Array(1600), { kind: 'lm' }, controller.signal);
    await expect.poll(() => readFile(join(dir, 'pid'), 'utf8').catch(() => '')).not.toBe('');
    const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
    controller.abort(new Error('turn cancelled'));
    await expect(pending).rejects.toThrow('turn cancelled');
    expect(alive(pid)).toBe(false);
    await decoder.close();
  });

  it('reports why the engine failed, without what it heard', async () => {
    await standIn(
      'echo \'ERROR: "cmd_ln.c", line 607: Unknown argument name -bogus\' >&2\n' +
        "echo 'INFO: hypothesis: patient words' >&2\nexit 1",
    );
    const decoder = new PocketsphinxDecoder({ paths });
    const failure = decoder.decode(new Int16Array(1600), { kind: 'lm' });
    await expect(failure).rejects.toThrow(
      'pocketsphinx exited 1 without a result: ERROR: "cmd_ln.c", line 607: Unknown argument name -bogus',
    );
    await expect(failure).rejects.not.toThrow(/patient words/);
    await decoder.close();
  });
});
