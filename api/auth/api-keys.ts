/**
 * Backend API keys: `vck_<keyId>_<secret>`. Only a salted hash of the secret is stored (the key
 * is shown once, when made). The secret is 256 random bits, so one HMAC-SHA256 with a per-key
 * salt is enough; a slow password hash would only slow every request down.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { isDuplicateKeyError } from '../../infra/mongo.ts';
import { API_KEY_SCOPES, type ApiKeyScope, type Principal } from './permissions.ts';

export const API_KEYS_COLLECTION = 'api_keys';

interface ApiKeyDocument {
  _id: string;
  name: string;
  scopes: ApiKeyScope[];
  salt: string;
  hash: string;
  createdAt: Date;
  revokedAt?: Date;
}

const KEY_FORMAT = /^vck_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
/** A key is re-read from the store this often, so a revocation takes effect within it. */
const CACHE_MS = 30_000;
const CACHE_MAX = 1000;

const digest = (salt: string, secret: string): Buffer =>
  createHmac('sha256', Buffer.from(salt, 'base64url')).update(secret).digest();

export interface CreatedApiKey {
  keyId: string;
  /** The full key: shown once, never stored. */
  key: string;
  scopes: readonly ApiKeyScope[];
}

export class ApiKeyStore {
  readonly #keys: Collection<ApiKeyDocument>;
  readonly #cache = new Map<string, { principal: Principal; until: number }>();

  constructor(db: Db) {
    this.#keys = db.collection<ApiKeyDocument>(API_KEYS_COLLECTION);
  }

  async create(
    name: string,
    scopes: readonly ApiKeyScope[],
    now = new Date(),
  ): Promise<CreatedApiKey> {
    const unknown = scopes.filter((s) => !API_KEY_SCOPES.includes(s));
    if (!scopes.length || unknown.length) {
      throw new Error(`scopes must be some of ${API_KEY_SCOPES.join(', ')}`);
    }
    for (let tries = 0; tries < 3; tries++) {
      const keyId = randomBytes(8).toString('hex');
      const secret = randomBytes(32).toString('base64url');
      const salt = randomBytes(16).toString('base64url');
      try {
        await this.#keys.insertOne({
          _id: keyId,
          name,
          scopes: [...new Set(scopes)],
          salt,
          hash: digest(salt, secret).toString('hex'),
          createdAt: now,
        });
      } catch (err) {
        if (isDuplicateKeyError(err)) continue;
        throw err;
      }
      return { keyId, key: `vck_${keyId}_${secret}`, scopes: [...new Set(scopes)] };
    }
    throw new Error('could not pick an unused key id');
  }

  async revoke(keyId: string, now = new Date()): Promise<void> {
    await this.#keys.updateOne({ _id: keyId }, { $set: { revokedAt: now } });
    this.#cache.clear();
  }

  /** The principal for a presented key, or null when it is malformed, unknown or revoked. */
  async verify(presented: string): Promise<Principal | null> {
    const match = KEY_FORMAT.exec(presented);
    if (!match) return null;
    const [, keyId = '', secret = ''] = match;
    const cached = this.#cache.get(presented);
    if (cached && cached.until > Date.now()) return cached.principal;
    const doc = await this.#keys.findOne({ _id: keyId });
    if (!doc || doc.revokedAt) return null;
    const expected = Buffer.from(doc.hash, 'hex');
    const actual = digest(doc.salt, secret);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return null;
    const principal: Principal = {
      kind: 'service',
      keyId,
      scopes: doc.scopes.filter((s) => API_KEY_SCOPES.includes(s)),
    };
    if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
    this.#cache.set(presented, { principal, until: Date.now() + CACHE_MS });
    return principal;
  }
}
