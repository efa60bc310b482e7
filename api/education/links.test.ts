import { describe, expect, it } from 'vitest';
import { clipLinkKey, createClipLinks } from './links.ts';

const key = clipLinkKey('a'.repeat(40), undefined);
const links = createClipLinks({ key, issuer: 'voicecare-dev', ttlMs: 60_000 });

describe('patient links to an education clip', () => {
  it('names the clip it was signed for, and nothing once expired or signed by another key', async () => {
    const { token, expiresAt } = await links.sign('clip_0123456789ab', new Date());
    expect(await links.verify(token)).toEqual({
      clipId: 'clip_0123456789ab',
      expiresAt: new Date(Math.floor(expiresAt.getTime() / 1000) * 1000),
    });
    expect(expiresAt.getTime() - Date.now()).toBeGreaterThan(55_000);
    const old = await links.sign('clip_0123456789ab', new Date(Date.now() - 120_000));
    expect(await links.verify(old.token)).toBeUndefined();
    const other = createClipLinks({
      key: clipLinkKey('b'.repeat(40), undefined),
      issuer: 'voicecare-dev',
      ttlMs: 60_000,
    });
    expect(await other.verify(token)).toBeUndefined();
    expect(await links.verify('not.a.token')).toBeUndefined();
  });

  it('without a secret or a dev key, signs with a per-process key that it marks ephemeral', async () => {
    const a = clipLinkKey(undefined, undefined);
    const b = clipLinkKey(undefined, undefined);
    expect(a.ephemeral).toBe(true);
    expect(clipLinkKey('c'.repeat(40), undefined).ephemeral).toBeUndefined();
    const first = createClipLinks({ key: a, issuer: 'voicecare-dev', ttlMs: 60_000 });
    const second = createClipLinks({ key: b, issuer: 'voicecare-dev', ttlMs: 60_000 });
    const { token } = await first.sign('clip_0123456789ab', new Date());
    expect((await first.verify(token))?.clipId).toBe('clip_0123456789ab');
    expect(await second.verify(token)).toBeUndefined();
  });
});
