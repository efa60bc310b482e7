/**
 * The loopback TCP proxy the outage tests put in front of shared servers.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpProxy } from './support/tcp-proxy.ts';

/** Sends `text`, resolves with what came back, or with the way the connection failed. */
function roundTrip(address: string, text: string, timeoutMs = 1000): Promise<string> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve) => {
    const s: Socket = createConnection({ host, port: Number(port) });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, timeoutMs);
    s.once('data', (d) => {
      clearTimeout(timer);
      s.end();
      resolve(d.toString());
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code ?? 'error');
    });
    s.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    s.write(text);
  });
}

describe('TcpProxy', () => {
  let echo: Server;
  let proxy: TcpProxy;

  beforeAll(async () => {
    echo = createServer((s) => {
      // The proxy resets its upstream connections when cut.
      s.on('error', () => undefined);
      s.pipe(s);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const addr = echo.address() as { port: number };
    proxy = await TcpProxy.start({ target: `127.0.0.1:${addr.port}` });
  });

  afterAll(async () => {
    await proxy?.close();
    await new Promise((r) => echo?.close(r));
  });

  it('forwards, refuses while cut, resets live connections, and forwards again once restored', async () => {
    expect(await roundTrip(proxy.address, 'one')).toBe('one');

    const [host, port] = proxy.address.split(':') as [string, string];
    const live = createConnection({ host, port: Number(port) });
    await new Promise((r) => live.once('connect', r));
    const liveEnded = new Promise<string>((r) => {
      live.once('error', (err: NodeJS.ErrnoException) => r(err.code ?? 'error'));
      live.once('close', () => r('closed'));
    });
    await new Promise((r) => setTimeout(r, 50));

    proxy.cut();
    expect(proxy.isCut).toBe(true);
    expect(['ECONNRESET', 'closed']).toContain(await liveEnded);
    expect(['ECONNRESET', 'closed']).toContain(await roundTrip(proxy.address, 'two'));

    proxy.restore();
    expect(await roundTrip(proxy.address, 'three')).toBe('three');
    expect(proxy.stats.refused).toBeGreaterThanOrEqual(1);
    expect(proxy.stats.reset).toBeGreaterThanOrEqual(1);
  });

  it('holds connections without an answer in blackhole mode', async () => {
    proxy.cut({ mode: 'blackhole' });
    expect(await roundTrip(proxy.address, 'four', 300)).toBe('timeout');
    proxy.restore();
    expect(await roundTrip(proxy.address, 'five')).toBe('five');
  });
});
