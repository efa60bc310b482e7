/**
 * /v1/profiles for the console: the CLI's operations (prompts/cli.ts) over HTTP, on the same
 * loader, store, diff and preview code.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { diffProfiles } from '../../prompts/diff.ts';
import { parseProfileSource, type ProfileIssue } from '../../prompts/loader.ts';
import { previewFirstMessage } from '../../prompts/operations.ts';
import { PreviewError } from '../../prompts/preview.ts';
import type { Profile } from '../../prompts/schema.ts';
import { PublishConflictError, type PublishedProfile } from '../../prompts/store.ts';
import { TemplateError } from '../../prompts/template.ts';
import { actorOf } from '../auth/plugin.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiProblem } from '../errors.ts';

const ProfileId = z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/);
/** A draft as the editor holds it: YAML text, at most what a profile file sensibly is. */
const Draft = z
  .object({
    yaml: z
      .string()
      .min(1)
      .max(48 * 1024),
  })
  .strict();

const DRAFT_FILE = 'draft.yaml';

function parseDraft(
  yaml: string,
): { ok: true; profile: Profile } | { ok: false; issues: ProfileIssue[] } {
  const r = parseProfileSource(yaml, { file: DRAFT_FILE, idMatchesFileName: false });
  return r.ok ? { ok: true, profile: r.profile } : { ok: false, issues: r.issues };
}

const issueView = (i: ProfileIssue) => ({
  line: i.line,
  column: i.column,
  field: i.field,
  message: i.message,
});

function invalid(issues: readonly ProfileIssue[]): ApiProblem {
  return new ApiProblem('profile_invalid', {
    detail: `${issues.length} problem${issues.length === 1 ? '' : 's'} in the profile`,
    errors: issues.map((i) => ({ path: i.field || '(profile)', message: i.message })),
    extra: { issues: issues.map(issueView) },
  });
}

const publishedView = (p: PublishedProfile) => ({
  id: p.id,
  version: p.version,
  hash: p.hash,
  author: p.author,
  note: p.note,
  publishedAt: p.publishedAt.toISOString(),
  profile: p.profile,
});

export const profileRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  const getPublished = async (id: string, version?: number): Promise<PublishedProfile> => {
    const found = await deps.profiles.get(id, version);
    if (!found) {
      throw new ApiProblem('not_found', {
        detail:
          version === undefined ? `no published profile ${id}` : `${id} has no version ${version}`,
      });
    }
    return found;
  };

  app.get(
    '/v1/profiles',
    { schema: { tags: ['profiles'], summary: 'Published profiles and their versions' } },
    async () => {
      const byId = new Map<string, Awaited<ReturnType<typeof deps.profiles.list>>>();
      for (const v of await deps.profiles.list()) {
        const list = byId.get(v.id) ?? [];
        list.push(v);
        byId.set(v.id, list);
      }
      return {
        items: [...byId].map(([id, versions]) => ({
          id,
          latest: Math.max(...versions.map((v) => v.version)),
          versions: versions.map((v) => ({ ...v, publishedAt: v.publishedAt.toISOString() })),
        })),
      };
    },
  );

  app.get(
    '/v1/profiles/:id',
    {
      schema: {
        tags: ['profiles'],
        summary: 'The latest published version, with the list of versions',
        params: z.object({ id: ProfileId }),
      },
    },
    async (request) => {
      const latest = await getPublished(request.params.id);
      const versions = await deps.profiles.list(request.params.id);
      return {
        ...publishedView(latest),
        versions: versions.map((v) => ({ ...v, publishedAt: v.publishedAt.toISOString() })),
      };
    },
  );

  app.get(
    '/v1/profiles/:id/versions/:version',
    {
      schema: {
        tags: ['profiles'],
        summary: 'One published version',
        params: z.object({ id: ProfileId, version: z.coerce.number().int().positive() }),
      },
    },
    async (request) => publishedView(await getPublished(request.params.id, request.params.version)),
  );

  app.get(
    '/v1/profiles/:id/diff',
    {
      schema: {
        tags: ['profiles'],
        summary: 'Field-by-field changes between two published versions',
        params: z.object({ id: ProfileId }),
        querystring: z
          .object({
            from: z.coerce.number().int().positive(),
            to: z.coerce.number().int().positive(),
          })
          .strict(),
      },
    },
    async (request) => {
      const { id } = request.params;
      const a = await getPublished(id, request.query.from);
      const b = await getPublished(id, request.query.to);
      return { id, from: a.version, to: b.version, changes: diffProfiles(a.profile, b.profile) };
    },
  );

  app.post(
    '/v1/profiles/validate',
    {
      schema: {
        tags: ['profiles'],
        summary: 'Check a draft; each problem has line, column and field for the editor',
        body: Draft,
      },
    },
    async (request) => {
      const r = parseDraft(request.body.yaml);
      return r.ok
        ? { valid: true, id: r.profile.id, version: r.profile.version, issues: [] }
        : { valid: false, issues: r.issues.map(issueView) };
    },
  );

  app.post(
    '/v1/profiles',
    {
      schema: {
        tags: ['profiles'],
        summary: 'Publish a draft as an immutable version; the author is the caller',
        body: Draft.extend({ note: z.string().trim().min(1).max(500) }).strict(),
      },
    },
    async (request, reply) => {
      const r = parseDraft(request.body.yaml);
      if (!r.ok) throw invalid(r.issues);
      try {
        const { created, published } = await deps.profiles.publish(r.profile, {
          author: actorOf(request.principal),
          note: request.body.note,
        });
        request.log.info(
          { profile: published.id, version: published.version, created },
          'profile published',
        );
        return reply.code(created ? 201 : 200).send({ created, ...publishedView(published) });
      } catch (err) {
        if (err instanceof PublishConflictError) {
          throw new ApiProblem('profile_version_conflict', { detail: err.message });
        }
        throw err;
      }
    },
  );

  app.post(
    '/v1/profiles/preview',
    {
      schema: {
        tags: ['profiles'],
        summary: 'The first message as audio (audio/wav), from a published version or a draft',
        body: z.union([
          Draft.extend({ name: z.string().max(80).optional() }).strict(),
          z
            .object({
              id: ProfileId,
              version: z.number().int().positive().optional(),
              name: z.string().max(80).optional(),
            })
            .strict(),
        ]),
      },
    },
    async (request, reply) => {
      const body = request.body;
      let profile: Profile;
      if ('yaml' in body) {
        const r = parseDraft(body.yaml);
        if (!r.ok) throw invalid(r.issues);
        profile = r.profile;
      } else {
        profile = (await getPublished(body.id, body.version)).profile;
      }
      try {
        const { wav, result } = await previewFirstMessage(profile, {
          values: body.name === undefined ? {} : { 'patient.displayName': body.name },
          providers: deps.cfg.providers,
        });
        return reply
          .type('audio/wav')
          .header('x-voice-engine', result.engine)
          .header('x-voice', result.voice)
          .send(wav);
      } catch (err) {
        if (err instanceof TemplateError) {
          throw new ApiProblem('invalid_request', {
            detail: 'the first message needs values that were not given (pass "name")',
            errors: err.missing.map((m) => ({
              path: 'body.name',
              message: `${m.variable} is needed`,
            })),
          });
        }
        if (err instanceof PreviewError) {
          throw new ApiProblem('preview_failed', { detail: err.message, cause: err });
        }
        throw err;
      }
    },
  );
};
