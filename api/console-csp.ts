/**
 * The Content-Security-Policy of the console's pages. The API's JSON routes need none (helmet's
 * CSP is off there); the pages get one that allows only what the built console does: its own
 * scripts and styles, calls to this origin, to LiveKit (signalling over WebSocket, its HTTP
 * validate call) and to the OIDC token endpoint, and audio from blobs (the voice preview) and
 * media streams (the call).
 */
import type { Config } from '../infra/config.ts';

/** `ws(s)://host` and `http(s)://host` for LiveKit's URL, whichever scheme it was given in. */
function liveKitSources(url: string): string[] {
  const u = new URL(url);
  const secure = u.protocol === 'wss:' || u.protocol === 'https:';
  return [`${secure ? 'wss' : 'ws'}://${u.host}`, `${secure ? 'https' : 'http'}://${u.host}`];
}

export function consoleCsp(cfg: Pick<Config, 'livekit' | 'api'>): string {
  const connect = ["'self'", ...liveKitSources(cfg.livekit.url)];
  const oidc = cfg.api.oidc;
  if (oidc) connect.push(new URL(oidc.tokenUrl).origin);
  const directives: Record<string, string[]> = {
    'default-src': ["'self'"],
    'script-src': ["'self'"],
    // CodeMirror and LiveKit's components set styles at run time; no script can come of it.
    'style-src': ["'self'", "'unsafe-inline'"],
    'img-src': ["'self'", 'data:', 'blob:'],
    'media-src': ["'self'", 'blob:', 'mediastream:'],
    'connect-src': [...new Set(connect)],
    // LiveKit's client runs its audio worklets and workers from blobs.
    'worker-src': ["'self'", 'blob:'],
    'font-src': ["'self'", 'data:'],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
  };
  return Object.entries(directives)
    .map(([name, values]) => `${name} ${values.join(' ')}`)
    .join('; ');
}
