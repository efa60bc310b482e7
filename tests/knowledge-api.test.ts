/**
 * /v1/knowledge against the real API server and FerretDB: uploads of each format, the 4xx a
 * clinician gets for a bad file, versions, approval and retirement with who did it, and the
 * search a profile's calls would see.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, json, type ApiFixture } from './support/api.ts';
import { tinyPdf } from './support/pdf.ts';

const KNEE = new URL('../knowledge/samples/knee-aftercare.md', import.meta.url);

describe('knowledge documents over the API', () => {
  let api: ApiFixture;
  let clinician: string;
  let admin: string;

  beforeAll(async () => {
    api = await startApi({ KNOWLEDGE_MAX_UPLOAD_BYTES: '20000' });
    clinician = `Bearer ${await api.staffToken(['clinician'], { subject: 'dr-lee', name: 'Dr Lee' })}`;
    admin = `Bearer ${await api.staffToken(['admin'], { subject: 'gov-kim' })}`;
  });
  afterAll(async () => {
    await api?.stop();
  });

  const upload = (
    file: Blob,
    name: string,
    fields: Record<string, string>,
    auth = clinician,
  ): Promise<Response> => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.set(k, v);
    form.set('file', file, name);
    return api.fetch('/v1/knowledge', { method: 'POST', body: form, auth });
  };
  const md = async () => new Blob([await readFile(KNEE)], { type: 'text/markdown' });

  it('stores an uploaded Markdown document pending approval, cut into passages with stable ids', async () => {
    const res = await upload(await md(), 'knee.md', {
      title: 'Knee aftercare',
      profiles: 'intake',
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as {
      docId: string;
      version: number;
      status: string;
      passages: { id: string; heading?: string; text: string }[];
      uploaded: { by: string };
    };
    expect(body).toMatchObject({ docId: 'knee-aftercare', version: 1, status: 'pending' });
    expect(body.uploaded.by).toBe('Dr Lee');
    expect(body.passages[1]).toMatchObject({
      id: 'knee-aftercare@v1#1',
      heading: 'After your knee replacement › Showering and bathing',
    });
    expect(body.passages.every((p) => p.text.length <= 700 && !p.text.includes('#'))).toBe(true);

    // Pending: nothing to find yet.
    const search = await api.fetch('/v1/knowledge/search', {
      ...json({ profile: 'intake', question: 'when can I shower?' }),
      auth: clinician,
    });
    expect(((await search.json()) as { hits: unknown[] }).hits).toEqual([]);
  });

  it('lets only an admin approve, records who and when, and then retrieval finds the passage', async () => {
    const refused = await api.fetch('/v1/knowledge/knee-aftercare/versions/1/approve', {
      method: 'POST',
      auth: clinician,
    });
    expect(refused.status).toBe(403);
    const ok = await api.fetch('/v1/knowledge/knee-aftercare/versions/1/approve', {
      method: 'POST',
      auth: admin,
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({
      status: 'approved',
      approved: { by: expect.stringContaining('gov-kim') },
    });
    const again = await api.fetch('/v1/knowledge/knee-aftercare/versions/1/approve', {
      method: 'POST',
      auth: admin,
    });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { code: string }).code).toBe('document_version_not_pending');

    const search = await api.fetch('/v1/knowledge/search', {
      ...json({ profile: 'intake', question: 'when can I shower?' }),
      auth: clinician,
    });
    const { hits } = (await search.json()) as {
      hits: { passageId: string; score: number; strong: boolean }[];
    };
    expect(hits[0]).toMatchObject({ passageId: 'knee-aftercare@v1#1', strong: true });
  });

  it('makes a re-upload a new version, and a new title with a taken id a conflict', async () => {
    const dup = await upload(await md(), 'knee.md', {
      title: 'Knee aftercare',
      profiles: 'intake',
    });
    expect(dup.status).toBe(409);
    const v2 = await upload(await md(), 'knee.md', {
      title: 'Knee aftercare',
      docId: 'knee-aftercare',
      profiles: 'intake',
    });
    expect(v2.status).toBe(201);
    expect(await v2.json()).toMatchObject({ version: 2, status: 'pending' });
    const doc = (await (
      await api.fetch('/v1/knowledge/knee-aftercare', { auth: clinician })
    ).json()) as { status: string; inUseVersion: number; versions: { version: number }[] };
    expect(doc).toMatchObject({ status: 'approved', inUseVersion: 1 });
    expect(doc.versions.map((v) => v.version)).toEqual([2, 1]);
  });

  it('reads a PDF with its text, and refuses a scanned (textless) or broken one', async () => {
    const pdf = tinyPdf(['Wound care', 'Keep the wound dry for two days.']);
    const ok = await upload(new Blob([pdf], { type: 'application/pdf' }), 'wound.pdf', {
      title: 'Wound leaflet',
      profiles: 'intake',
    });
    expect(ok.status).toBe(201);
    const body = (await ok.json()) as { format: string; passages: { text: string }[] };
    expect(body.format).toBe('pdf');
    expect(body.passages.map((p) => p.text).join(' ')).toContain('Keep the wound dry');

    const blank = await upload(new Blob([tinyPdf([])]), 'blank.pdf', {
      title: 'Blank',
      profiles: 'intake',
    });
    expect(blank.status).toBe(422);
    expect(((await blank.json()) as { code: string }).code).toBe('document_empty');

    const broken = await upload(new Blob(['%PDF-1.4 garbage']), 'broken.pdf', {
      title: 'Broken',
      profiles: 'intake',
    });
    expect(broken.status).toBe(422);
    expect(((await broken.json()) as { code: string }).code).toBe('document_unreadable');
  });

  it('answers a bad type, an empty file, an oversized file and bad fields with clear 4xx', async () => {
    const cases: [Response, number, string][] = [
      [
        await upload(new Blob(['x']), 'notes.docx', { title: 'Word', profiles: 'intake' }),
        415,
        'document_type_unsupported',
      ],
      [
        await upload(new Blob([]), 'empty.md', { title: 'Empty', profiles: 'intake' }),
        422,
        'document_empty',
      ],
      [
        await upload(new Blob(['a'.repeat(30_000)]), 'big.txt', {
          title: 'Big',
          profiles: 'intake',
        }),
        413,
        'body_too_large',
      ],
      [
        await upload(new Blob(['text']), 'a.txt', { title: 'No profile', profiles: '' }),
        400,
        'invalid_request',
      ],
      [
        await upload(new Blob(['text']), 'a.txt', { title: 'Unknown', profiles: 'nope-profile' }),
        422,
        'profile_unknown',
      ],
      [
        await api.fetch('/v1/knowledge', { ...json({ title: 'x' }), auth: clinician }),
        415,
        'unsupported_media_type',
      ],
    ];
    for (const [res, status, code] of cases) {
      expect(res.status).toBe(status);
      expect(((await res.json()) as { code: string }).code).toBe(code);
    }
  });

  it('retires a document for good: no search finds it, and it can neither be approved nor re-uploaded', async () => {
    const retired = await api.fetch('/v1/knowledge/knee-aftercare/retire', {
      method: 'POST',
      auth: admin,
    });
    expect(retired.status).toBe(200);
    expect(await retired.json()).toMatchObject({
      status: 'retired',
      retired: { by: expect.stringContaining('gov-kim') },
    });
    const search = await api.fetch('/v1/knowledge/search', {
      ...json({ profile: 'intake', question: 'when can I shower?' }),
      auth: clinician,
    });
    expect(((await search.json()) as { hits: unknown[] }).hits).toEqual([]);
    const approve = await api.fetch('/v1/knowledge/knee-aftercare/versions/2/approve', {
      method: 'POST',
      auth: admin,
    });
    expect(approve.status).toBe(409);
    const reupload = await upload(await md(), 'knee.md', {
      title: 'Knee aftercare',
      docId: 'knee-aftercare',
      profiles: 'intake',
    });
    expect(reupload.status).toBe(409);
    expect(((await reupload.json()) as { code: string }).code).toBe('document_retired');
    const list = (await (
      await api.fetch('/v1/knowledge?profile=intake', { auth: clinician })
    ).json()) as { items: { docId: string; status: string }[] };
    expect(list.items.find((d) => d.docId === 'knee-aftercare')?.status).toBe('retired');
  });
});
