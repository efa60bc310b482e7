/**
 * An OpenID Connect issuer for the console's sign-in test: the authorization endpoint (it signs
 * in one configured user at once, as an IdP with a live session does, and redirects back with
 * a code), the token endpoint (authorization code + PKCE S256, public client, no secret) and the
 * JWKS the API verifies the access token against. It records what it was asked, and refuses
 * what a real issuer refuses: a wrong verifier, a reused code, a redirect URI that changed.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { LoopbackServer, readBody, sendJson } from './server.ts';

export interface OidcUser {
  subject: string;
  name: string;
  roles: readonly string[];
}

export interface OidcStandinOptions {
  clientId: string;
  audience: string;
  user: OidcUser;
  /** Claim the roles go in (the API's API_ROLES_CLAIM). @defaultValue 'roles' */
  rolesClaim?: string;
}

export interface OidcRecord {
  authorizations: { clientId: string; redirectUri: string; scope: string; method: string }[];
  /** Token requests and how each ended: `ok` or the OAuth error code. */
  tokens: { outcome: string }[];
}

const KID = 'standin-1';

export class OidcStandin {
  readonly record: OidcRecord = { authorizations: [], tokens: [] };
  readonly #opts: Required<OidcStandinOptions>;
  readonly #server: LoopbackServer;
  readonly #codes = new Map<string, { challenge: string; redirectUri: string; clientId: string }>();
  #keys: { privateKey: CryptoKey; jwk: JWK } | undefined;

  constructor(opts: OidcStandinOptions) {
    this.#opts = { rolesClaim: 'roles', ...opts };
    this.#server = new LoopbackServer('127.0.0.1', (req, res) => this.#handle(req, res));
  }

  get issuer(): string {
    return `http://127.0.0.1:${this.#server.port}`;
  }

  /** The API's environment for this issuer. */
  apiEnv(): Record<string, string> {
    return {
      API_JWT_ISSUER: this.issuer,
      API_JWT_AUDIENCE: this.#opts.audience,
      API_JWKS_URL: `${this.issuer}/jwks`,
      API_ROLES_CLAIM: this.#opts.rolesClaim,
      API_OIDC_AUTHORIZE_URL: `${this.issuer}/authorize`,
      API_OIDC_TOKEN_URL: `${this.issuer}/token`,
      API_OIDC_CLIENT_ID: this.#opts.clientId,
    };
  }

  async start(): Promise<this> {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    this.#keys = { privateKey, jwk: { ...(await exportJWK(publicKey)), kid: KID, alg: 'ES256' } };
    await this.#server.listen(0);
    return this;
  }

  close(): Promise<void> {
    return this.#server.close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.issuer);
    // The console posts the code from its own origin.
    const cors = { 'access-control-allow-origin': req.headers.origin ?? '*' };
    if (req.method === 'GET' && url.pathname === '/jwks') {
      return sendJson(res, 200, { keys: [this.#keys?.jwk] });
    }
    if (req.method === 'GET' && url.pathname === '/authorize') return this.#authorize(url, res);
    if (req.method === 'POST' && url.pathname === '/token') {
      const form = new URLSearchParams((await readBody(req)).toString('utf8'));
      const { status, body } = await this.#token(form);
      this.record.tokens.push({ outcome: status === 200 ? 'ok' : String(body['error']) });
      return sendJson(res, status, body, cors);
    }
    sendJson(res, 404, { error: 'not_found' });
  }

  #authorize(url: URL, res: ServerResponse): void {
    const q = url.searchParams;
    const redirectUri = q.get('redirect_uri') ?? '';
    const clientId = q.get('client_id') ?? '';
    const method = q.get('code_challenge_method') ?? '';
    this.record.authorizations.push({ clientId, redirectUri, scope: q.get('scope') ?? '', method });
    if (
      clientId !== this.#opts.clientId ||
      q.get('response_type') !== 'code' ||
      method !== 'S256' ||
      !q.get('code_challenge')
    ) {
      return sendJson(res, 400, { error: 'invalid_request' });
    }
    const code = randomBytes(16).toString('hex');
    this.#codes.set(code, { challenge: q.get('code_challenge') ?? '', redirectUri, clientId });
    const back = new URL(redirectUri);
    back.searchParams.set('code', code);
    back.searchParams.set('state', q.get('state') ?? '');
    res.writeHead(302, { location: back.toString() });
    res.end();
  }

  async #token(form: URLSearchParams): Promise<{ status: number; body: Record<string, unknown> }> {
    const code = form.get('code') ?? '';
    const grant = this.#codes.get(code);
    this.#codes.delete(code); // single use
    if (form.get('grant_type') !== 'authorization_code' || !grant) {
      return { status: 400, body: { error: 'invalid_grant' } };
    }
    if (
      form.get('client_id') !== grant.clientId ||
      form.get('redirect_uri') !== grant.redirectUri
    ) {
      return { status: 400, body: { error: 'invalid_grant' } };
    }
    const verifier = form.get('code_verifier') ?? '';
    const expected = createHash('sha256').update(verifier).digest('base64url');
    if (verifier.length < 43 || expected !== grant.challenge) {
      return { status: 400, body: { error: 'invalid_grant' } };
    }
    const { user, audience, rolesClaim } = this.#opts;
    const accessToken = await new SignJWT({ name: user.name, [rolesClaim]: [...user.roles] })
      .setProtectedHeader({ alg: 'ES256', kid: KID })
      .setIssuer(this.issuer)
      .setAudience(audience)
      .setSubject(user.subject)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(this.#keys?.privateKey as CryptoKey);
    return {
      status: 200,
      body: { access_token: accessToken, token_type: 'Bearer', expires_in: 600 },
    };
  }
}
