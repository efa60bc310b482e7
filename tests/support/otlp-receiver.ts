/**
 * A loopback OTLP/HTTP trace receiver, in place of an OpenTelemetry Collector: child processes
 * (the agent worker and its job processes) export to it with the production exporter
 * (protobuf, `POST /v1/traces`), and the test reads the spans back, decoded.
 *
 * The installed @opentelemetry/otlp-transformer encodes requests but decodes only responses,
 * so this carries a small reader of the OTLP trace messages (opentelemetry/proto trace/v1,
 * common/v1, resource/v1): only the fields the assertions use, every other field skipped by
 * its wire type.
 */
import { createServer, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';

export type AttributeMap = Record<string, unknown>;

/** One span, from either source (OTLP or the in-memory exporter), in one shape. */
export interface CollectedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  /** The resource's `service.name`. */
  service: string;
  /** The instrumentation scope's name. */
  scope: string;
  attributes: AttributeMap;
  events: { name: string; attributes: AttributeMap }[];
  status: { code: number; message: string };
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw new Error('truncated varint');
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  }

  bytes(): Uint8Array {
    const len = Number(this.varint());
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  fixed64(): Uint8Array {
    const out = this.buf.subarray(this.pos, this.pos + 8);
    this.pos += 8;
    return out;
  }

  /** Each field as (number, wire type), with the reader positioned at its value. */
  *fields(): Generator<[number, number]> {
    while (!this.done) {
      const tag = Number(this.varint());
      yield [tag >>> 3, tag & 7];
    }
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function anyValue(buf: Uint8Array): unknown {
  const r = new Reader(buf);
  for (const [field, wire] of r.fields()) {
    if (field === 1 && wire === 2) return text(r.bytes());
    if (field === 2 && wire === 0) return r.varint() !== 0n;
    if (field === 3 && wire === 0) return Number(BigInt.asIntN(64, r.varint()));
    if (field === 4 && wire === 1) return Buffer.from(r.fixed64()).readDoubleLE(0);
    if (field === 5 && wire === 2) return repeated(r.bytes(), 1, anyValue);
    if (field === 6 && wire === 2) return keyValues(repeated(r.bytes(), 1, (b) => b));
    if (field === 7 && wire === 2) return hex(r.bytes());
    r.skip(wire);
  }
  return undefined;
}

function repeated<T>(buf: Uint8Array, number: number, read: (b: Uint8Array) => T): T[] {
  const out: T[] = [];
  const r = new Reader(buf);
  for (const [field, wire] of r.fields()) {
    if (field === number && wire === 2) out.push(read(r.bytes()));
    else r.skip(wire);
  }
  return out;
}

function keyValue(buf: Uint8Array): [string, unknown] {
  let key = '';
  let value: unknown;
  const r = new Reader(buf);
  for (const [field, wire] of r.fields()) {
    if (field === 1 && wire === 2) key = text(r.bytes());
    else if (field === 2 && wire === 2) value = anyValue(r.bytes());
    else r.skip(wire);
  }
  return [key, value];
}

function keyValues(list: Uint8Array[]): AttributeMap {
  return Object.fromEntries(list.map(keyValue));
}

function decodeSpan(buf: Uint8Array, service: string, scope: string): CollectedSpan {
  const span: CollectedSpan = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    name: '',
    kind: 0,
    service,
    scope,
    attributes: {},
    events: [],
    status: { code: 0, message: '' },
  };
  const attrs: Uint8Array[] = [];
  const r = new Reader(buf);
  for (const [field, wire] of r.fields()) {
    if (field === 1 && wire === 2) span.traceId = hex(r.bytes());
    else if (field === 2 && wire === 2) span.spanId = hex(r.bytes());
    else if (field === 4 && wire === 2) span.parentSpanId = hex(r.bytes());
    else if (field === 5 && wire === 2) span.name = text(r.bytes());
    else if (field === 6 && wire === 0) span.kind = Number(r.varint());
    else if (field === 9 && wire === 2) attrs.push(r.bytes());
    else if (field === 11 && wire === 2) {
      const event = { name: '', attributes: {} as AttributeMap };
      const eventAttrs: Uint8Array[] = [];
      const er = new Reader(r.bytes());
      for (const [f, w] of er.fields()) {
        if (f === 2 && w === 2) event.name = text(er.bytes());
        else if (f === 3 && w === 2) eventAttrs.push(er.bytes());
        else er.skip(w);
      }
      event.attributes = keyValues(eventAttrs);
      span.events.push(event);
    } else if (field === 15 && wire === 2) {
      const sr = new Reader(r.bytes());
      for (const [f, w] of sr.fields()) {
        if (f === 2 && w === 2) span.status.message = text(sr.bytes());
        else if (f === 3 && w === 0) span.status.code = Number(sr.varint());
        else sr.skip(w);
      }
    } else r.skip(wire);
  }
  span.attributes = keyValues(attrs);
  return span;
}

/** Decodes an ExportTraceServiceRequest. */
export function decodeTraceRequest(body: Uint8Array): CollectedSpan[] {
  const out: CollectedSpan[] = [];
  for (const resourceSpans of repeated(body, 1, (b) => b)) {
    let service = '';
    const scopes: Uint8Array[] = [];
    const r = new Reader(resourceSpans);
    for (const [field, wire] of r.fields()) {
      if (field === 1 && wire === 2) {
        const resource = keyValues(repeated(r.bytes(), 1, (b) => b));
        service = String(resource['service.name'] ?? '');
      } else if (field === 2 && wire === 2) scopes.push(r.bytes());
      else r.skip(wire);
    }
    for (const scopeSpans of scopes) {
      let scope = '';
      const spans: Uint8Array[] = [];
      const sr = new Reader(scopeSpans);
      for (const [field, wire] of sr.fields()) {
        if (field === 1 && wire === 2) {
          const name = repeated(sr.bytes(), 1, text)[0];
          scope = name ?? '';
        } else if (field === 2 && wire === 2) spans.push(sr.bytes());
        else sr.skip(wire);
      }
      for (const s of spans) out.push(decodeSpan(s, service, scope));
    }
  }
  return out;
}

/** An in-memory exporter's span in the same shape (service from the provider's resource). */
export function fromReadableSpan(span: ReadableSpan): CollectedSpan {
  return {
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? '',
    name: span.name,
    // The API's SpanKind counts from 0 (internal); OTLP's from 1.
    kind: span.kind + 1,
    service: String(span.resource.attributes['service.name'] ?? ''),
    scope: span.instrumentationScope.name,
    attributes: { ...span.attributes },
    events: span.events.map((e) => ({ name: e.name, attributes: { ...e.attributes } })),
    status: { code: span.status.code, message: span.status.message ?? '' },
  };
}

export interface OtlpReceiver {
  /** The OTLP endpoint to configure (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  readonly url: string;
  readonly spans: readonly CollectedSpan[];
  /** Export requests received, and how many could not be decoded. */
  readonly requests: number;
  readonly failures: number;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: CollectedSpan[] = [];
  let requests = 0;
  let failures = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      requests += 1;
      try {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        spans.push(...decodeTraceRequest(body));
        // An empty ExportTraceServiceResponse: everything accepted.
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } catch {
        failures += 1;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    get requests() {
      return requests;
    },
    get failures() {
      return failures;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
