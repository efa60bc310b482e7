/**
 * /v1/education: scripts (write, draft from approved documents, version, approve, retire),
 * render jobs in a chosen voice, the clips with their progress, the audio streamed with HTTP
 * Range, and patient links to one approved clip. Script text never goes in a log line, nor
 * does a link token.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  ClipId,
  ClipVoice,
  EducationStoreError,
  ScriptId,
  ScriptText,
  inUseVersion,
  type AuditStamp,
  type Clip,
  type EducationScript,
  type ScriptVersion,
} from '../../education/index.ts';
import { draftScript } from '../../education/draft.ts';
import { availableVoices } from '../../education/voices.ts';
import { DocId, ProfileIds, type KnowledgeDocument } from '../../knowledge/index.ts';
import { VoiceCareError } from '../../infra/errors.ts';
import { actorOf } from '../auth/plugin.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiProblem } from '../errors.ts';
import { parseRange } from './range.ts';
import { slugOf, stampView } from '../resource-views.ts';

const ScriptParams = z.object({ scriptId: ScriptId });
const VersionParams = z.object({
  scriptId: ScriptId,
  version: z.coerce.number().int().positive(),
});
const ClipParams = z.object({ clipId: ClipId });

const NewScript = z
  .object({
    /** For a new version of an existing script. */
    scriptId: ScriptId.optional(),
    title: z.string().trim().min(1, 'give the script a title').max(200),
    text: ScriptText,
    profiles: ProfileIds,
    /** The knowledge document versions a draft was made from (from the draft route). */
    draftedFrom: z
      .array(z.object({ docId: DocId, version: z.number().int().positive() }).strict())
      .max(10)
      .optional(),
  })
  .strict();

function versionView(v: ScriptVersion) {
  return {
    scriptId: v.scriptId,
    version: v.version,
    title: v.title,
    text: v.text,
    profiles: v.profiles,
    status: v.status,
    ...(v.draftedFrom ? { draftedFrom: v.draftedFrom } : {}),
    created: stampView(v.created),
    ...(v.approved ? { approved: stampView(v.approved) } : {}),
    ...(v.superseded ? { superseded: stampView(v.superseded) } : {}),
  };
}

function scriptView(s: EducationScript) {
  const inUse = inUseVersion(s);
  return {
    scriptId: s.scriptId,
    title: s.title,
    status: s.retired ? 'retired' : inUse ? 'approved' : 'pending',
    ...(inUse ? { inUseVersion: inUse.version } : {}),
    ...(s.retired ? { retired: stampView(s.retired) } : {}),
    versions: s.versions.map(versionView),
  };
}

function clipView(c: Clip, playable?: boolean) {
  return {
    clipId: c.clipId,
    source: { scriptId: c.scriptId, version: c.scriptVersion },
    voice: c.voice,
    state: c.state,
    progress: c.progress,
    ...(c.error ? { error: c.error } : {}),
    ...(c.audio
      ? {
          audio: {
            format: c.audio.format,
            mimeType: c.audio.mimeType,
            sampleRate: c.audio.sampleRate,
            channels: c.audio.channels,
            durationMs: c.audio.durationMs,
            bytes: c.audio.bytes,
            sha256: c.audio.sha256,
          },
        }
      : {}),
    requested: stampView(c.requested),
    ...(c.renderedAt ? { renderedAt: c.renderedAt.toISOString() } : {}),
    ...(c.approved ? { approved: stampView(c.approved) } : {}),
    ...(c.retired ? { retired: stampView(c.retired) } : {}),
    ...(playable !== undefined ? { playable } : {}),
  };
}

function toProblem(err: unknown): unknown {
  if (err instanceof EducationStoreError) {
    switch (err.code) {
      case 'script_not_found':
      case 'version_not_found':
      case 'clip_not_found':
        return new ApiProblem('not_found', { detail: err.message });
      case 'script_retired':
        return new ApiProblem('script_retired', { detail: err.message });
      case 'version_not_pending':
        return new ApiProblem('script_version_not_pending', { detail: err.message });
      case 'clip_not_ready':
        return new ApiProblem('clip_not_ready', { detail: err.message });
      case 'clip_retired':
      case 'clip_source_not_approved':
      case 'clip_already_approved':
        return new ApiProblem('clip_not_approvable', { detail: err.message });
    }
  }
  if (err instanceof VoiceCareError) {
    switch (err.code) {
      case 'llm_not_configured':
        return new ApiProblem('llm_not_configured', { detail: err.message });
      case 'documents_not_approved':
        return new ApiProblem('documents_not_approved', { detail: err.message });
      case 'draft_failed':
        return new ApiProblem('draft_failed', { detail: err.message, cause: err });
    }
  }
  return err;
}

async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toProblem(err);
  }
}

const newClipId = (): string => `clip_${randomBytes(8).toString('hex')}`;

export const educationRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  const store = deps.education;
  const stamp = (request: FastifyRequest): AuditStamp => ({
    by: actorOf(request.principal),
    at: deps.now(),
  });

  /** Streams a clip's audio, whole or the one byte range asked for. */
  async function sendAudio(request: FastifyRequest, reply: FastifyReply, clip: Clip) {
    const audio = clip.audio;
    if (clip.state !== 'ready' || !audio) {
      throw new ApiProblem('clip_not_ready', { detail: `the clip is ${clip.state}` });
    }
    const range = parseRange(request.headers.range, audio.bytes);
    void reply
      .header('accept-ranges', 'bytes')
      .header('content-type', audio.mimeType)
      .header('cache-control', 'private, no-store')
      .header('etag', `"${audio.sha256.slice(0, 32)}"`);
    if (range.kind === 'unsatisfiable') {
      void reply.header('content-range', `bytes */${audio.bytes}`);
      throw new ApiProblem('range_not_satisfiable', {
        detail: `ask for bytes within 0-${audio.bytes - 1}`,
      });
    }
    if (range.kind === 'whole') {
      return reply
        .code(200)
        .header('content-length', String(audio.bytes))
        .send(Readable.from(store.readAudio(audio.fileId)));
    }
    return reply
      .code(206)
      .header('content-range', `bytes ${range.start}-${range.end}/${audio.bytes}`)
      .header('content-length', String(range.end - range.start + 1))
      .send(Readable.from(store.readAudio(audio.fileId, range)));
  }

  app.get(
    '/v1/education/voices',
    { schema: { tags: ['education'], summary: 'Voices a clip can be rendered in here' } },
    async () => ({ items: availableVoices(deps.cfg.providers) }),
  );

  app.get(
    '/v1/education/scripts',
    {
      schema: {
        tags: ['education'],
        summary: 'Education scripts, newest first; `profile` keeps those attached to it',
        querystring: z.object({ profile: z.string().max(64).optional() }).strict(),
      },
    },
    async (request) => {
      const scripts = await store.listScripts(
        request.query.profile ? { profileId: request.query.profile } : {},
      );
      return { items: scripts.map(scriptView) };
    },
  );

  app.post(
    '/v1/education/scripts',
    {
      schema: {
        tags: ['education'],
        summary: 'Save a script (or a new version of one): stored pending approval',
        body: NewScript,
      },
    },
    async (request, reply) => {
      const { title, text, profiles, draftedFrom } = request.body;
      const scriptId = request.body.scriptId ?? slugOf(title, 'script');
      const unknown: string[] = [];
      for (const id of profiles) if (!(await deps.profiles.get(id))) unknown.push(id);
      if (unknown.length) {
        throw new ApiProblem('profile_unknown', {
          detail: `not published: ${unknown.join(', ')}`,
          errors: [{ path: 'body.profiles', message: 'not a published profile' }],
        });
      }
      const existing = await store.getScript(scriptId);
      if (!request.body.scriptId && existing) {
        throw new ApiProblem('idempotency_conflict', {
          detail: `a script ${scriptId} exists; send its scriptId to save a new version`,
          errors: [{ path: 'body.scriptId', message: 'required for a new version' }],
        });
      }
      if (request.body.scriptId && !existing) {
        throw new ApiProblem('not_found', { detail: `no script ${scriptId}` });
      }
      const version = await mapped(() =>
        store.addScriptVersion({
          scriptId,
          title,
          text,
          profiles,
          ...(draftedFrom ? { draftedFrom } : {}),
          created: stamp(request),
        }),
      );
      request.log.info(
        { scriptId, version: version.version, chars: text.length, drafted: !!draftedFrom },
        'education script saved',
      );
      return reply
        .code(201)
        .header('location', `/v1/education/scripts/${scriptId}`)
        .send(versionView(version));
    },
  );

  app.post(
    '/v1/education/scripts/draft',
    {
      schema: {
        tags: ['education'],
        summary: 'Draft a script from approved knowledge documents with the configured LLM',
        description: 'Nothing is stored: save the (edited) draft with POST /v1/education/scripts.',
        body: z
          .object({
            topic: z.string().trim().min(1, 'say what the script is about').max(300),
            docIds: z.array(DocId).min(1, 'pick at least one document').max(5),
          })
          .strict(),
      },
    },
    async (request) => {
      const docs: KnowledgeDocument[] = [];
      for (const docId of request.body.docIds) {
        const doc = await deps.knowledge.getDocument(docId);
        if (!doc) throw new ApiProblem('not_found', { detail: `no document ${docId}` });
        docs.push(doc);
      }
      const draft = await mapped(() =>
        draftScript(deps.cfg.providers.openai, { topic: request.body.topic, documents: docs }),
      );
      request.log.info(
        { documents: draft.draftedFrom.length, chars: draft.text.length },
        'education script drafted',
      );
      return draft;
    },
  );

  app.get(
    '/v1/education/scripts/:scriptId',
    {
      schema: {
        tags: ['education'],
        summary: 'One script: every version, and its clips with their render state',
        params: ScriptParams,
      },
    },
    async (request) => {
      const script = await store.getScript(request.params.scriptId);
      if (!script) throw new ApiProblem('not_found', { detail: 'no such script' });
      const clips = await store.listClips({ scriptId: script.scriptId });
      const playing = await store.playableClip(script.scriptId);
      return {
        ...scriptView(script),
        ...(playing ? { playingClipId: playing.clipId } : {}),
        clips: await Promise.all(
          clips.map(async (c) => clipView(c, await store.isPlayable(c.clipId))),
        ),
      };
    },
  );

  app.post(
    '/v1/education/scripts/:scriptId/versions/:version/approve',
    {
      schema: {
        tags: ['education'],
        summary: 'Approve a pending script version: its approved clips may then play',
        params: VersionParams,
      },
    },
    async (request) => {
      const { scriptId, version } = request.params;
      const approved = await mapped(() => store.approveScript(scriptId, version, stamp(request)));
      request.log.info({ scriptId, version }, 'education script approved');
      return versionView(approved);
    },
  );

  app.post(
    '/v1/education/scripts/:scriptId/retire',
    {
      schema: {
        tags: ['education'],
        summary: 'Retire a script: none of its clips plays again',
        params: ScriptParams,
      },
    },
    async (request) => {
      const { scriptId } = request.params;
      const script = await mapped(() => store.retireScript(scriptId, stamp(request)));
      request.log.info({ scriptId }, 'education script retired');
      return scriptView(script);
    },
  );

  app.post(
    '/v1/education/scripts/:scriptId/versions/:version/render',
    {
      schema: {
        tags: ['education'],
        summary: 'Render a script version in a voice: a job, 202 with the clip to poll',
        params: VersionParams,
        body: z.object({ voice: ClipVoice }).strict(),
      },
    },
    async (request, reply) => {
      const { scriptId, version } = request.params;
      const { voice } = request.body;
      const offered = availableVoices(deps.cfg.providers).some(
        (v) => v.provider === voice.provider,
      );
      if (!offered) {
        throw new ApiProblem('voice_unavailable', {
          detail: `${voice.provider} is not configured here`,
          errors: [{ path: 'body.voice.provider', message: 'not configured' }],
        });
      }
      const clip = await mapped(() =>
        store.addClip({
          clipId: newClipId(),
          scriptId,
          scriptVersion: version,
          voice,
          requested: stamp(request),
        }),
      );
      deps.clipRenderer.enqueue(clip.clipId);
      request.log.info(
        { scriptId, version, clipId: clip.clipId, provider: voice.provider },
        'education clip queued',
      );
      return reply
        .code(202)
        .header('location', `/v1/education/clips/${clip.clipId}`)
        .send(clipView(clip));
    },
  );

  app.get(
    '/v1/education/clips',
    {
      schema: {
        tags: ['education'],
        summary: 'Clips, newest request first; `script` keeps one script’s',
        querystring: z.object({ script: ScriptId.optional() }).strict(),
      },
    },
    async (request) => {
      const clips = await store.listClips(
        request.query.script ? { scriptId: request.query.script } : {},
      );
      return {
        items: await Promise.all(
          clips.map(async (c) => clipView(c, await store.isPlayable(c.clipId))),
        ),
      };
    },
  );

  app.get(
    '/v1/education/clips/:clipId',
    {
      schema: {
        tags: ['education'],
        summary: 'One clip: its render state and progress, and once ready its audio’s details',
        params: ClipParams,
      },
    },
    async (request) => {
      const clip = await store.getClip(request.params.clipId);
      if (!clip) throw new ApiProblem('not_found', { detail: 'no such clip' });
      return clipView(clip, await store.isPlayable(clip.clipId));
    },
  );

  app.get(
    '/v1/education/clips/:clipId/audio',
    {
      schema: {
        tags: ['education'],
        summary: 'The clip’s audio (WAV), whole or one byte range (Range: bytes=…)',
        params: ClipParams,
      },
    },
    async (request, reply) => {
      const clip = await store.getClip(request.params.clipId);
      if (!clip) throw new ApiProblem('not_found', { detail: 'no such clip' });
      return sendAudio(request, reply, clip);
    },
  );

  app.post(
    '/v1/education/clips/:clipId/approve',
    {
      schema: {
        tags: ['education'],
        summary: 'Approve a rendered clip of an approved script version: calls play it',
        params: ClipParams,
      },
    },
    async (request) => {
      const clip = await mapped(() => store.approveClip(request.params.clipId, stamp(request)));
      request.log.info({ clipId: clip.clipId, scriptId: clip.scriptId }, 'education clip approved');
      return clipView(clip, await store.isPlayable(clip.clipId));
    },
  );

  app.post(
    '/v1/education/clips/:clipId/retire',
    {
      schema: {
        tags: ['education'],
        summary: 'Retire a clip: no call or link plays it again',
        params: ClipParams,
      },
    },
    async (request) => {
      const clip = await mapped(() => store.retireClip(request.params.clipId, stamp(request)));
      request.log.info({ clipId: clip.clipId }, 'education clip retired');
      return clipView(clip, false);
    },
  );

  app.post(
    '/v1/education/clips/:clipId/patient-link',
    {
      schema: {
        tags: ['education'],
        summary: 'A short-lived link a patient opens to hear one approved clip, no sign-in',
        params: ClipParams,
      },
    },
    async (request) => {
      const { clipId } = request.params;
      const clip = await store.getClip(clipId);
      if (!clip) throw new ApiProblem('not_found', { detail: 'no such clip' });
      if (!(await store.isPlayable(clipId))) {
        throw new ApiProblem('clip_not_approvable', {
          detail: 'only an approved clip of the script version in use can be sent to a patient',
        });
      }
      const { token, expiresAt } = await deps.clipLinks.sign(clipId, deps.now());
      const path = `/listen/${token}`;
      const audioPath = `/v1/education/listen/${token}`;
      request.log.info({ clipId }, 'education patient link created');
      const base = deps.cfg.api.publicUrl ?? '';
      return {
        url: `${base}${path}`,
        path,
        audioUrl: `${base}${audioPath}`,
        audioPath,
        expiresAt: expiresAt.toISOString(),
      };
    },
  );

  /** The clip a patient link names, still playable; a problem a patient can act on otherwise. */
  async function linkedClip(token: string): Promise<{ clip: Clip; expiresAt: Date }> {
    const link = await deps.clipLinks.verify(token);
    if (!link) {
      throw new ApiProblem('clip_not_playable', {
        detail: 'This link is not valid or has expired. Ask your care team for a new one.',
      });
    }
    const clip = await store.getClip(link.clipId);
    if (!clip || !(await store.isPlayable(link.clipId))) {
      throw new ApiProblem('clip_not_playable', {
        detail: 'This recording has been withdrawn by your care team. Ask them for a new link.',
      });
    }
    return { clip, expiresAt: link.expiresAt };
  }

  const ListenParams = z.object({ token: z.string().min(10).max(600) });
  // Tokens are signed; this only keeps a scanner from costing database reads. An audio
  // element asks for several ranges while it plays.
  const listenLimit = { rateLimit: { max: 300, timeWindow: 60_000 } };

  app.get(
    '/v1/education/listen/:token',
    {
      schema: {
        tags: ['education'],
        summary: 'A patient plays an education clip from a link (Range supported)',
        params: ListenParams,
      },
      config: listenLimit,
    },
    async (request, reply) => {
      const { clip } = await linkedClip(request.params.token);
      return sendAudio(request, reply, clip);
    },
  );

  app.get(
    '/v1/education/listen/:token/about',
    {
      schema: {
        tags: ['education'],
        summary:
          "What a patient link's page shows: the lesson's title, its words to read along, its length",
        params: ListenParams,
      },
      config: listenLimit,
    },
    async (request, reply) => {
      const { clip, expiresAt } = await linkedClip(request.params.token);
      const script = await store.getScript(clip.scriptId);
      const version = script?.versions.find((v) => v.version === clip.scriptVersion);
      if (!version || !clip.audio) throw new ApiProblem('clip_not_playable');
      void reply.header('cache-control', 'private, no-store');
      return {
        title: version.title,
        text: version.text,
        durationMs: clip.audio.durationMs,
        expiresAt: expiresAt.toISOString(),
      };
    },
  );
};
