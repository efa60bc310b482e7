/**
 * `voicecare prompts ...` as a clinician runs it: the real launcher (bin/voicecare.mjs), a real
 * espeak-ng for previews, FerretDB for publishing, and a loopback stand-in for OpenAI's speech
 * endpoint where a cloud voice is previewed.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMongo } from '../infra/mongo.ts';
import { wavDurationMs } from '../prompts/preview.ts';
import { MINIMAL_PROFILE_YAML } from '../prompts/testing.ts';
import { TEST_ENV, testConfig, uniqueName } from './support/env.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));
const bin = join(repo, 'bin', 'voicecare.mjs');
const dbName = uniqueName('prompts-cli');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with a clean environment: no API keys leak in from the developer's shell. */
function voicecare(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: opts.cwd ?? repo,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        NODE_ENV: 'test',
        MONGODB_URL: TEST_ENV.MONGODB_URL ?? '',
        MONGODB_DB: dbName,
        ...opts.env,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'voicecare-cli-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  const mongo = await connectMongo(testConfig().mongo, dbName);
  await mongo.db.dropDatabase();
  await mongo.close();
});

describe('voicecare prompts validate', () => {
  it('passes on every profile in prompts/', async () => {
    const run = await voicecare(['prompts', 'validate']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('ok    prompts/intake.yaml  (intake v1: 6 steps');
    expect(run.stdout).toContain('ok    prompts/medication-adherence.yaml');
    expect(run.stdout).toContain('ok    prompts/post-discharge.yaml');
    expect(run.stdout).toMatch(/all \d+ profiles valid/);
  });

  it('fails with file:line and the field on a broken file', async () => {
    const path = join(dir, 'demo.yaml');
    await writeFile(path, MINIMAL_PROFILE_YAML.replace('      type: text', '      type: bool'));
    const run = await voicecare(['prompts', 'validate', path]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`FAIL  ${path}`);
    expect(run.stderr).toContain(
      `${path}:12 protocol[0].capture.type: must be one of yesno, number, date, text, choice — got 'bool'`,
    );
    expect(run.stderr).toContain('1 of 1 profile failed');
  });

  it('works from any directory (the launcher finds tsx and the profiles itself)', async () => {
    const run = await voicecare(['prompts', 'validate'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(join(repo, 'prompts', 'intake.yaml'));
  });
});

describe('voicecare prompts render', () => {
  it('prints the instructions and the first message with the name filled in', async () => {
    const run = await voicecare(['prompts', 'render', 'intake', '--name', 'Ann']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('intake v1 (en-US), patient.displayName = "Ann"');
    expect(run.stdout).toContain(
      'First message\n-------------\nHi Ann, this is the virtual assistant from your care team.',
    );
    expect(run.stdout).toContain('You are speaking with Ann.');
    expect(run.stdout).not.toContain('{{');
  });

  it('uses the fallback when no name is given', async () => {
    const run = await voicecare(['prompts', 'render', 'prompts/intake.yaml']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Hi there, this is the virtual assistant');
  });

  it('refuses to render a blank for a variable with no value and no fallback', async () => {
    const path = join(dir, 'demo.yaml');
    await writeFile(path, MINIMAL_PROFILE_YAML);
    const run = await voicecare(['prompts', 'render', path]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(
      'instructions uses {{patient.displayName}}, but no value was given for patient.displayName',
    );
    expect(run.stderr).toContain('pass --name');
  });
});

describe('voicecare prompts preview', () => {
  it('falls back to the local voice for a cloud voice without a key, and says so', async () => {
    const out = join(dir, 'first.wav');
    const run = await voicecare(['prompts', 'preview', 'intake', '--out', out, '--name', 'Ann']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      "note: no ELEVENLABS_API_KEY is configured, so the local voice stands in for elevenlabs voice '21m00Tcm4TlvDq8ikWAM'",
    );
    expect(run.stdout).toMatch(
      /wrote .*first\.wav: \d+\.\d s, espeak-ng voice en-us at 166 words per minute/,
    );
    // About 35 words at 166 words per minute: roughly 10-13 s of speech.
    const ms = wavDurationMs(await readFile(out));
    expect(ms).toBeGreaterThan(6_000);
    expect(ms).toBeLessThan(25_000);
  });

  it("speaks a local voice at the profile's speed", async () => {
    const lengths: number[] = [];
    for (const speed of ['0.7', '1.2']) {
      const path = join(dir, 'demo.yaml');
      await writeFile(path, MINIMAL_PROFILE_YAML.replace('  speed: 1', `  speed: ${speed}`));
      const out = join(dir, `demo-${speed}.wav`);
      const run = await voicecare(['prompts', 'preview', path, '--out', out, '--name', 'Ann']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toBe('');
      lengths.push(wavDurationMs(await readFile(out)));
    }
    const [slow = 0, fast = 0] = lengths;
    expect(slow).toBeGreaterThan(1000);
    expect(slow / fast).toBeGreaterThan(1.3);
  });

  describe('with an OpenAI key configured', () => {
    let server: Server;
    const requests: { path: string; body: Record<string, unknown>; auth: string }[] = [];

    beforeAll(async () => {
      // Speaks OpenAI's /v1/audio/speech wire format: raw 24 kHz mono s16le for "pcm".
      server = createServer((req, res) => {
        let body = '';
        req.setEncoding('utf8').on('data', (d: string) => (body += d));
        req.on('end', () => {
          requests.push({
            path: req.url ?? '',
            body: JSON.parse(body || '{}') as Record<string, unknown>,
            auth: req.headers.authorization ?? '',
          });
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.end(Buffer.alloc(24_000 * 2 * 1.5)); // 1.5 s of silence
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    });

    afterAll(async () => {
      await new Promise((r) => server.close(r));
    });

    it("synthesises through the profile's cloud voice", async () => {
      const { port } = server.address() as AddressInfo;
      const out = join(dir, 'cloud.wav');
      const run = await voicecare(
        ['prompts', 'preview', 'medication-adherence', '--out', out, '--name', 'Ann'],
        {
          env: {
            OPENAI_API_KEY: 'test-key',
            OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
            TTS_PROVIDERS: 'openai',
          },
        },
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain("openai voice 'sage' at speed 0.95");
      expect(requests).toHaveLength(1);
      expect(requests[0]).toMatchObject({
        path: '/v1/audio/speech',
        auth: 'Bearer test-key',
        body: { voice: 'sage', speed: 0.95, response_format: 'pcm' },
      });
      expect(requests[0]?.body.input).toMatch(/^Hi Ann, this is the virtual assistant/);
      expect(wavDurationMs(await readFile(out))).toBe(1500);
    });

    it('uses the local voice with --offline even though a key is configured', async () => {
      const before = requests.length;
      const { port } = server.address() as AddressInfo;
      const run = await voicecare(
        ['prompts', 'preview', 'medication-adherence', '--out', join(dir, 'off.wav'), '--offline'],
        { env: { OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` } },
      );
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('note: --offline was given');
      expect(requests.length).toBe(before);
    });
  });
});

describe('voicecare prompts publish, list and diff', () => {
  it('publishes, refuses edits in place, lists and diffs versions', async () => {
    const first = await voicecare([
      'prompts',
      'publish',
      'intake',
      '--author',
      'Dr. Rivera',
      '--note',
      'First version',
    ]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^published intake v1 \(sha256:[0-9a-f]{12}\) by Dr\. Rivera\n$/);

    const again = await voicecare([
      'prompts',
      'publish',
      'prompts/intake.yaml',
      '--author',
      'Dr. Rivera',
      '--note',
      'retry',
    ]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('intake v1 is already published with identical content');

    const source = await readFile(join(repo, 'prompts', 'intake.yaml'), 'utf8');
    const edited = source.replace('  speed: 0.95', '  speed: 0.9');
    expect(edited).not.toBe(source);
    const editedPath = join(dir, 'intake.yaml');
    await writeFile(editedPath, edited);
    const inPlace = await voicecare([
      'prompts',
      'publish',
      editedPath,
      '--author',
      'Dr. Chen',
      '--note',
      'slower',
    ]);
    expect(inPlace.code).toBe(1);
    expect(inPlace.stderr).toContain('intake v1 is already published with different content');

    await writeFile(editedPath, edited.replace(/^version: 1$/m, 'version: 2'));
    const second = await voicecare([
      'prompts',
      'publish',
      editedPath,
      '--author',
      'Dr. Chen',
      '--note',
      'Slower voice',
    ]);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('published intake v2');

    const list = await voicecare(['prompts', 'list', 'intake']);
    expect(list.code).toBe(0);
    const rows = list.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^PROFILE\s+VERSION\s+PUBLISHED \(UTC\)\s+AUTHOR\s+HASH\s+NOTE$/);
    expect(rows[1]).toMatch(
      /^intake\s+v1\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+Dr\. Rivera\s+[0-9a-f]{12}\s+First version$/,
    );
    expect(rows[2]).toMatch(/^intake\s+v2\s+.*Dr\. Chen\s+[0-9a-f]{12}\s+Slower voice$/);

    const diff = await voicecare(['prompts', 'diff', 'intake', '1', '2']);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toMatch(/from v1 \(.* by Dr\. Rivera: First version\)/);
    expect(diff.stdout).toContain('  ~ voice.speed: 0.95 → 0.9\n');
    expect(diff.stdout).toContain('1 change\n');

    const missing = await voicecare(['prompts', 'diff', 'intake', '1', '9']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("'intake' has no published version 9");
  });

  it('says clearly when MongoDB cannot be reached, without printing credentials', async () => {
    const run = await voicecare(['prompts', 'list'], {
      env: { MONGODB_URL: 'mongodb://clinic:s3cret@127.0.0.1:1' },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('cannot reach MongoDB at mongodb://127.0.0.1:1');
    expect(run.stderr).not.toContain('s3cret');
  });
});

describe('voicecare usage', () => {
  it('prints help and exits 0 on --help', async () => {
    const run = await voicecare(['prompts', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: voicecare prompts <command> [options]');
    for (const cmd of ['validate', 'render', 'preview', 'publish', 'list', 'diff']) {
      expect(run.stdout).toContain(`  ${cmd} `);
    }
  });

  it('exits 2 for a usage error (the in-process cases are in prompts/cli.test.ts)', async () => {
    const run = await voicecare(['prompts', 'frobnicate']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown command 'frobnicate'");
  });
});
