/**
 * /v1/education against the real API server and FerretDB (GridFS): a clinician's script,
 * approved by an admin, rendered as a job in the embedded espeak-ng voice and in ElevenLabs
 * (its stand-in), stored in GridFS, streamed whole and by HTTP Range, approved, and sent to a
 * patient as a signed link that plays without sign-in until the clip is retired. Also: a draft
 * from an approved knowledge document through the OpenAI stand-in, and the 4xx for bad input.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDUCATION_COLLECTIONS } from '../education/index.ts';
import { json, startApi, type ApiFixture } from './support/api.ts';
import { startStandins, type Standins } from './support/standins/index.ts';

const KNEE = new URL('../knowledge/samples/knee-aftercare.md', import.meta.url);
const TEXT =
  'After your knee surgery, keep the dressing dry for two days. Walk a little every hour. Call your care team if the wound turns red.';
const LOCAL = { provider: 'local', voiceId: 'en-us', speed: 1 };

interface ClipBody {
  clipId: string;
  state: string;
  progress: number;
  playable?: boolean;
  error?: { code: string };
  audio?: { bytes: number; sampleRate: number; durationMs: number; sha256: string; format: string };
  source: { scriptId: string; version: number };
}

describe('education audio over the API', () => {
  let api: ApiFixture;
  let standins: Standins;
  let clinician: string;
  let admin: string;

  beforeAll(async () => {
    standins = await startStandins();
    api = await startApi({ ...standins.env });
    clinician = `Bearer ${await api.staffToken(['clinician'], { subject: 'dr-lee', name: 'Dr Lee' })}`;
    admin = `Bearer ${await api.staffToken(['admin'], { subject: 'gov-kim' })}`;
  });
  afterAll(async () => {
    await api?.stop();
    await standins?.close();
  });

  const post = (path: string, body: unknown, auth = clinician) =>
    api.fetch(path, { ...json(body), auth });
  const clip = async (clipId: string): Promise<ClipBody> =>
    (await (
      await api.fetch(`/v1/education/clips/${clipId}`, { auth: clinician })
    ).json()) as ClipBody;

  async function rendered(scriptId: string, version: number, voice: unknown): Promise<ClipBody> {
    const res = await post(`/v1/education/scripts/${scriptId}/versions/${version}/render`, {
      voice,
    });
    expect(res.status).toBe(202);
    const queued = (await res.json()) as ClipBody;
    expect(queued.state).toBe('queued');
    const seen: string[] = [];
    let last = queued;
    const deadline = Date.now() + 60_000;
    while (last.state !== 'ready' && last.state !== 'failed' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 30));
      last = await clip(queued.clipId);
      seen.push(`${last.state}:${last.progress}`);
    }
    expect(last.error).toBeUndefined();
    expect(last.state).toBe('ready');
    // Progress only moves forward, and ends at 1.
    const progress = seen.map((s) => Number(s.split(':')[1]));
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(1);
    return last;
  }

  let localClip: ClipBody;
  let whole: Buffer;

  it('saves a script pending approval, and refuses empty or control-laden text', async () => {
    const res = await post('/v1/education/scripts', {
      title: 'Knee wound care',
      text: TEXT,
      profiles: ['intake'],
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      scriptId: 'knee-wound-care',
      version: 1,
      status: 'pending',
      created: { by: 'Dr Lee' },
    });
    const empty = await post('/v1/education/scripts', {
      title: 'X',
      text: '  ',
      profiles: ['intake'],
    });
    expect(empty.status).toBe(400);
    expect(await empty.json()).toMatchObject({ code: 'invalid_request' });
    const bidi = await post('/v1/education/scripts', {
      title: 'Y',
      text: 'take \u202Etwo\u202C tablets',
      profiles: ['intake'],
    });
    expect(((await bidi.json()) as { detail: string }).detail).toMatch(/control or direction/);
    const unknown = await post('/v1/education/scripts', {
      title: 'Z',
      text: 'Hi.',
      profiles: ['nope'],
    });
    expect(unknown.status).toBe(422);
  });

  it('renders a job with progress in the embedded voice and keeps the WAV in GridFS', async () => {
    localClip = await rendered('knee-wound-care', 1, LOCAL);
    expect(localClip.audio).toMatchObject({ format: 'wav', sampleRate: 22_050 });
    expect(localClip.audio?.durationMs).toBeGreaterThan(4000);
    expect(localClip.source).toEqual({ scriptId: 'knee-wound-care', version: 1 });

    const files = await api.api.mongo.db
      .collection(`${EDUCATION_COLLECTIONS.audioBucket}.files`)
      .find({ 'metadata.clipId': localClip.clipId })
      .toArray();
    expect(files).toHaveLength(1);
    expect(files[0]?.['length']).toBe(localClip.audio?.bytes);
    const chunks = await api.api.mongo.db
      .collection(`${EDUCATION_COLLECTIONS.audioBucket}.chunks`)
      .countDocuments({ files_id: files[0]?._id });
    expect(chunks).toBe(Math.ceil((localClip.audio?.bytes ?? 0) / (255 * 1024)));
  });

  it('streams the audio whole and by byte range (206), and answers 416 to a range past the end', async () => {
    const full = await api.fetch(`/v1/education/clips/${localClip.clipId}/audio`, {
      auth: clinician,
    });
    expect(full.status).toBe(200);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(full.headers.get('content-type')).toBe('audio/wav');
    whole = Buffer.from(await full.arrayBuffer());
    expect(whole.length).toBe(localClip.audio?.bytes);
    expect(createHash('sha256').update(whole).digest('hex')).toBe(localClip.audio?.sha256);
    expect(whole.toString('ascii', 0, 4)).toBe('RIFF');

    // Across the first GridFS chunk boundary (261120).
    const part = await api.fetch(`/v1/education/clips/${localClip.clipId}/audio`, {
      auth: clinician,
      headers: { range: 'bytes=261000-262999' },
    });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 261000-262999/${whole.length}`);
    expect(part.headers.get('content-length')).toBe('2000');
    expect(Buffer.from(await part.arrayBuffer()).equals(whole.subarray(261_000, 263_000))).toBe(
      true,
    );

    const tail = await api.fetch(`/v1/education/clips/${localClip.clipId}/audio`, {
      auth: clinician,
      headers: { range: 'bytes=-10' },
    });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(whole.subarray(whole.length - 10))).toBe(
      true,
    );

    const bad = await api.fetch(`/v1/education/clips/${localClip.clipId}/audio`, {
      auth: clinician,
      headers: { range: `bytes=${whole.length}-` },
    });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${whole.length}`);
    expect(await bad.json()).toMatchObject({ code: 'range_not_satisfiable' });
  });

  it('lets only an admin approve, and only a rendered clip of an approved script version', async () => {
    const early = await post(`/v1/education/clips/${localClip.clipId}/approve`, {}, admin);
    expect(early.status).toBe(409);
    expect(await early.json()).toMatchObject({ code: 'clip_not_approvable' });
    expect(
      (await post('/v1/education/scripts/knee-wound-care/versions/1/approve', {})).status,
    ).toBe(403);
    const ok = await post('/v1/education/scripts/knee-wound-care/versions/1/approve', {}, admin);
    expect(ok.status).toBe(200);
    expect((await post(`/v1/education/clips/${localClip.clipId}/approve`, {})).status).toBe(403);
    const approved = await post(`/v1/education/clips/${localClip.clipId}/approve`, {}, admin);
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ playable: true, approved: { by: 'gov-kim' } });
    const script = (await (
      await api.fetch('/v1/education/scripts/knee-wound-care', { auth: clinician })
    ).json()) as { playingClipId: string; status: string };
    expect(script).toMatchObject({ status: 'approved', playingClipId: localClip.clipId });
  });

  it('sends a patient a signed link that plays by range without sign-in, until the clip is retired', async () => {
    const res = await post(`/v1/education/clips/${localClip.clipId}/patient-link`, {});
    expect(res.status).toBe(200);
    const link = (await res.json()) as {
      path: string;
      audioPath: string;
      expiresAt: string;
    };
    expect(Date.parse(link.expiresAt) - Date.now()).toBeGreaterThan(50 * 60_000);
    // The patient opens a page; it plays the audio and shows what it is, and nothing else.
    expect(link.path).toMatch(/^\/listen\/[\w.-]+$/);
    const page = await fetch(`${api.url}${link.path}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const about = await fetch(`${api.url}${link.audioPath}/about`);
    expect(about.status).toBe(200);
    const lesson = (await about.json()) as Record<string, unknown>;
    expect(Object.keys(lesson).sort()).toEqual(['durationMs', 'expiresAt', 'text', 'title']);
    expect(lesson).toMatchObject({ title: expect.any(String), text: expect.any(String) });
    expect(
      Math.abs(Date.parse(lesson['expiresAt'] as string) - Date.parse(link.expiresAt)),
    ).toBeLessThan(1000);
    const played = await fetch(`${api.url}${link.audioPath}`, { headers: { range: 'bytes=0-43' } });
    expect(played.status).toBe(206);
    expect(Buffer.from(await played.arrayBuffer()).equals(whole.subarray(0, 44))).toBe(true);

    const tampered = link.audioPath.slice(0, -3) + (link.audioPath.endsWith('AAA') ? 'BBB' : 'AAA');
    expect((await fetch(`${api.url}${tampered}`)).status).toBe(410);
    expect((await fetch(`${api.url}${tampered}/about`)).status).toBe(410);

    expect((await post(`/v1/education/clips/${localClip.clipId}/retire`, {}, admin)).status).toBe(
      200,
    );
    const gone = await fetch(`${api.url}${link.audioPath}`);
    expect(gone.status).toBe(410);
    expect(await gone.json()).toMatchObject({ code: 'clip_not_playable' });
    const goneAbout = await fetch(`${api.url}${link.audioPath}/about`);
    expect(goneAbout.status).toBe(410);
    expect(await goneAbout.json()).toMatchObject({ detail: expect.stringMatching(/withdrawn/) });
    const refused = await post(`/v1/education/clips/${localClip.clipId}/patient-link`, {});
    expect(refused.status).toBe(409);
  });

  it('renders in the cloud voice through the ElevenLabs stand-in', async () => {
    const el = await rendered('knee-wound-care', 1, {
      provider: 'elevenlabs',
      voiceId: api.cfg.providers.elevenlabs.voiceId,
      speed: 1,
    });
    expect(el.audio?.durationMs).toBeGreaterThan(1000);
    // One synthesis per sentence.
    expect(
      standins.elevenlabs.contexts.length + standins.elevenlabs.httpRequests.length,
    ).toBeGreaterThanOrEqual(3);
    const voices = (await (
      await api.fetch('/v1/education/voices', { auth: clinician })
    ).json()) as {
      items: { provider: string }[];
    };
    expect(voices.items.map((v) => v.provider)).toEqual([
      'elevenlabs',
      'openai',
      'local',
      'local',
      'local',
    ]);
  });

  it('drafts a script from an approved knowledge document with the configured LLM', async () => {
    const form = new FormData();
    form.set('title', 'Knee aftercare');
    form.set('profiles', 'intake');
    form.set('file', new Blob([await readFile(KNEE)], { type: 'text/markdown' }), 'knee.md');
    expect(
      (await api.fetch('/v1/knowledge', { method: 'POST', body: form, auth: clinician })).status,
    ).toBe(201);
    const pending = await post('/v1/education/scripts/draft', {
      topic: 'showering',
      docIds: ['knee-aftercare'],
    });
    expect(pending.status).toBe(422);
    expect(await pending.json()).toMatchObject({ code: 'documents_not_approved' });
    await post('/v1/knowledge/knee-aftercare/versions/1/approve', {}, admin);

    standins.openai.reply(
      'You may shower after two days. Ask your care team if anything is unclear.',
    );
    const res = await post('/v1/education/scripts/draft', {
      topic: 'showering after surgery',
      docIds: ['knee-aftercare'],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      text: 'You may shower after two days. Ask your care team if anything is unclear.',
      draftedFrom: [{ docId: 'knee-aftercare', version: 1 }],
    });
    const sent = JSON.stringify(standins.openai.chatRequests.at(-1)?.body ?? {});
    expect(sent).toContain('Use only the facts in the passages');
    expect(sent).toMatch(/shower/i);
  });
});
