/**
 * An upload, from bytes to a stored pending version: format checked against the bytes, text
 * extracted, cut into passages. A document with no passage is refused (nothing to approve).
 */
import { createHash } from 'node:crypto';
import { chunkDocument } from './chunk.ts';
import { detectFormat, extractDocumentText, KnowledgeInputError } from './extract.ts';
import type { AuditStamp, DocumentVersion } from './schema.ts';
import type { KnowledgeStore } from './store.ts';

export interface Upload {
  docId: string;
  title: string;
  profiles: string[];
  fileName: string;
  mimeType: string;
  bytes: Uint8Array;
  uploaded: AuditStamp;
}

export async function ingestDocument(
  store: KnowledgeStore,
  upload: Upload,
  opts: { maxPassageChars: number },
): Promise<DocumentVersion> {
  if (upload.bytes.byteLength === 0) {
    throw new KnowledgeInputError('empty_document', 'the file is empty');
  }
  const format = detectFormat(upload.fileName, upload.mimeType, upload.bytes);
  const text = await extractDocumentText(upload.bytes, format);
  const probe = chunkDocument(text, { docId: upload.docId, version: 1, format });
  if (probe.length === 0) {
    throw new KnowledgeInputError('empty_document', 'the file holds no readable passages');
  }
  return store.addVersion({
    docId: upload.docId,
    title: upload.title,
    format,
    profiles: upload.profiles,
    sha256: createHash('sha256').update(upload.bytes).digest('hex'),
    bytes: upload.bytes.byteLength,
    uploaded: upload.uploaded,
    passages: (version) =>
      chunkDocument(text, {
        docId: upload.docId,
        version,
        format,
        maxChars: opts.maxPassageChars,
      }),
  });
}
