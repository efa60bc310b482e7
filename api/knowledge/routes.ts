/**
 * /v1/knowledge: care-team documents. Upload (multipart: the file plus `title`, `profiles` and,
 * for a new version of an existing document, `docId`), list, read with its passages, approve a
 * version, retire a document, and try a question against what a profile's calls would hear.
 * Document text never goes in a log line.
 */
import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  DocId,
  KnowledgeIndex,
  answering,
  refusedBy,
  KnowledgeInputError,
  KnowledgeStoreError,
  ProfileIds,
  ingestDocument,
  type AuditStamp,
  type DocumentVersion,
  type KnowledgeDocument,
} from '../../knowledge/index.ts';
import { actorOf } from '../auth/plugin.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiProblem, type ProblemCode } from '../errors.ts';
import { slugOf, stampView } from '../resource-views.ts';

const MAX_FIELD_BYTES = 4096;

const UploadFields = z
  .object({
    docId: DocId.optional(),
    title: z.string().trim().min(1, 'give the document a title').max(200),
    profiles: ProfileIds,
  })
  .strict();

const DocParams = z.object({ docId: DocId });
const VersionParams = z.object({ docId: DocId, version: z.coerce.number().int().positive() });

function versionView(v: DocumentVersion, withPassages: boolean) {
  return {
    docId: v.docId,
    version: v.version,
    title: v.title,
    format: v.format,
    profiles: v.profiles,
    status: v.status,
    sha256: v.sha256,
    bytes: v.bytes,
    passageCount: v.passages.length,
    uploaded: stampView(v.uploaded),
    ...(v.approved ? { approved: stampView(v.approved) } : {}),
    ...(v.superseded ? { superseded: stampView(v.superseded) } : {}),
    ...(withPassages ? { passages: v.passages } : {}),
  };
}

function documentView(d: KnowledgeDocument, withPassages: boolean) {
  const inUse = d.retired ? undefined : d.versions.find((v) => v.status === 'approved');
  return {
    docId: d.docId,
    title: d.title,
    status: d.retired ? 'retired' : inUse ? 'approved' : 'pending',
    ...(inUse ? { inUseVersion: inUse.version } : {}),
    ...(d.retired ? { retired: stampView(d.retired) } : {}),
    versions: d.versions.map((v) => versionView(v, withPassages)),
  };
}

const INPUT_PROBLEMS: Record<KnowledgeInputError['problem'], ProblemCode> = {
  unsupported_type: 'document_type_unsupported',
  empty_document: 'document_empty',
  no_text: 'document_empty',
  unreadable_pdf: 'document_unreadable',
  not_utf8: 'document_unreadable',
};

function toProblem(err: unknown): unknown {
  if (err instanceof KnowledgeInputError) {
    return new ApiProblem(INPUT_PROBLEMS[err.problem], {
      detail: err.message,
      errors: [{ path: 'body.file', message: err.message }],
    });
  }
  if (err instanceof KnowledgeStoreError) {
    switch (err.code) {
      case 'document_not_found':
      case 'version_not_found':
        return new ApiProblem('not_found', { detail: err.message });
      case 'document_retired':
        return new ApiProblem('document_retired', { detail: err.message });
      case 'version_not_pending':
        return new ApiProblem('document_version_not_pending', { detail: err.message });
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

const stampOf = (principal: Parameters<typeof actorOf>[0], at: Date): AuditStamp => ({
  by: actorOf(principal),
  at,
});

export const knowledgeRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  const limits = deps.cfg.knowledge;
  await app.register(multipart, {
    limits: {
      fileSize: limits.maxUploadBytes,
      files: 1,
      fields: 10,
      fieldSize: MAX_FIELD_BYTES,
      parts: 12,
    },
  });

  app.get(
    '/v1/knowledge',
    {
      schema: {
        tags: ['knowledge'],
        summary: 'Care-team documents, newest upload first; `profile` keeps those attached to it',
        querystring: z.object({ profile: z.string().max(64).optional() }).strict(),
      },
    },
    async (request) => {
      const docs = await deps.knowledge.listDocuments(
        request.query.profile ? { profileId: request.query.profile } : {},
      );
      return { items: docs.map((d) => documentView(d, false)) };
    },
  );

  app.post(
    '/v1/knowledge',
    {
      schema: {
        tags: ['knowledge'],
        summary: 'Upload a document (or a new version of one): stored pending approval',
        description:
          'multipart/form-data with one `file` (.md, .txt or .pdf) and the fields `title`, `profiles` (comma-separated profile ids) and, for a new version, `docId`.',
        consumes: ['multipart/form-data'],
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) {
        throw new ApiProblem('unsupported_media_type', {
          detail: 'send multipart/form-data with a file and its fields',
        });
      }
      const fields: Record<string, string> = {};
      let file: { name: string; mimeType: string; bytes: Buffer } | undefined;
      try {
        for await (const part of request.parts()) {
          if (part.type === 'file') {
            if (part.fieldname !== 'file') {
              await part.toBuffer();
              continue;
            }
            file = { name: part.filename, mimeType: part.mimetype, bytes: await part.toBuffer() };
          } else if (typeof part.value === 'string') {
            fields[part.fieldname] = part.value;
          }
        }
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'FST_REQ_FILE_TOO_LARGE') {
          throw new ApiProblem('body_too_large', {
            detail: `the file is larger than ${limits.maxUploadBytes} bytes`,
            errors: [{ path: 'body.file', message: 'too large' }],
          });
        }
        if (code?.startsWith('FST_')) {
          throw new ApiProblem('invalid_request', { detail: 'the multipart body is malformed' });
        }
        throw err;
      }
      if (!file) {
        throw new ApiProblem('invalid_request', {
          detail: 'body.file: attach the document as the `file` part',
          errors: [{ path: 'body.file', message: 'missing' }],
        });
      }
      const parsed = UploadFields.safeParse({
        ...(fields['docId'] ? { docId: fields['docId'] } : {}),
        title: fields['title'] ?? '',
        profiles: (fields['profiles'] ?? '')
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean),
      });
      if (!parsed.success) {
        const errors = parsed.error.issues.map((i) => ({
          path: ['body', ...i.path.map(String)].join('.'),
          message: i.message,
        }));
        throw new ApiProblem('invalid_request', {
          detail: errors.map((e) => `${e.path}: ${e.message}`).join('; '),
          errors,
        });
      }
      const { title, profiles } = parsed.data;
      const docId = parsed.data.docId ?? slugOf(title, 'doc');
      const unknown: string[] = [];
      for (const id of profiles) if (!(await deps.profiles.get(id))) unknown.push(id);
      if (unknown.length) {
        throw new ApiProblem('profile_unknown', {
          detail: `not published: ${unknown.join(', ')}`,
          errors: [{ path: 'body.profiles', message: 'not a published profile' }],
        });
      }
      if (!parsed.data.docId && (await deps.knowledge.getDocument(docId))) {
        throw new ApiProblem('idempotency_conflict', {
          detail: `a document ${docId} exists; send its docId to upload a new version`,
          errors: [{ path: 'body.docId', message: 'required for a new version' }],
        });
      }
      if (parsed.data.docId && !(await deps.knowledge.getDocument(docId))) {
        throw new ApiProblem('not_found', { detail: `no document ${docId}` });
      }
      const version = await mapped(() =>
        ingestDocument(
          deps.knowledge,
          {
            docId,
            title,
            profiles,
            fileName: file.name,
            mimeType: file.mimeType,
            bytes: file.bytes,
            uploaded: stampOf(request.principal, deps.now()),
          },
          { maxPassageChars: limits.maxPassageChars },
        ),
      );
      request.log.info(
        {
          docId,
          version: version.version,
          passages: version.passages.length,
          bytes: version.bytes,
        },
        'knowledge document uploaded',
      );
      return reply
        .code(201)
        .header('location', `/v1/knowledge/${docId}`)
        .send(versionView(version, true));
    },
  );

  app.get(
    '/v1/knowledge/:docId',
    {
      schema: {
        tags: ['knowledge'],
        summary: 'One document: every version with its passages and audit trail',
        params: DocParams,
      },
    },
    async (request) => {
      const doc = await deps.knowledge.getDocument(request.params.docId);
      if (!doc) throw new ApiProblem('not_found', { detail: 'no such document' });
      return documentView(doc, true);
    },
  );

  app.post(
    '/v1/knowledge/:docId/versions/:version/approve',
    {
      schema: {
        tags: ['knowledge'],
        summary: 'Approve a pending version: calls use it from their next question',
        params: VersionParams,
      },
    },
    async (request) => {
      const { docId, version } = request.params;
      const approved = await mapped(() =>
        deps.knowledge.approve(docId, version, stampOf(request.principal, deps.now())),
      );
      request.log.info({ docId, version }, 'knowledge document approved');
      return versionView(approved, false);
    },
  );

  app.post(
    '/v1/knowledge/:docId/retire',
    {
      schema: {
        tags: ['knowledge'],
        summary: 'Retire a document: no call uses any version of it again',
        params: DocParams,
      },
    },
    async (request) => {
      const { docId } = request.params;
      const doc = await mapped(() =>
        deps.knowledge.retire(docId, stampOf(request.principal, deps.now())),
      );
      request.log.info({ docId }, 'knowledge document retired');
      return documentView(doc, false);
    },
  );

  app.post(
    '/v1/knowledge/search',
    {
      schema: {
        tags: ['knowledge'],
        summary: "What a profile's calls would find for a question (approved passages only)",
        body: z
          .object({ profile: z.string().max(64), question: z.string().min(1).max(500) })
          .strict(),
      },
    },
    async (request) => {
      const sources = await deps.knowledge.approvedSources(request.body.profile);
      const index = new KnowledgeIndex(sources.flatMap((s) => s.passages));
      const hits = index.query(request.body.question, { limit: 5 });
      // What a call would read: nothing if the best passage is refused (answering()).
      const used = new Set(answering(hits, limits.minScore).map((h) => h.passageId));
      return {
        minScore: limits.minScore,
        hits: hits.map((h) => ({
          ...h,
          strong: used.has(h.passageId),
          refusedBy: refusedBy(h, limits.minScore),
        })),
      };
    },
  );
};
