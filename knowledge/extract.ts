/**
 * From uploaded bytes to text: UTF-8 Markdown and plain text as they are, PDF through unpdf
 * (PDF.js). Each failure is a KnowledgeInputError with a code the API maps to a 4xx.
 */
import { extractText, getDocumentProxy } from 'unpdf';
import { ValidationError } from '../infra/errors.ts';
import type { DocumentFormat } from './schema.ts';

export type InputProblem =
  'unsupported_type' | 'empty_document' | 'unreadable_pdf' | 'not_utf8' | 'no_text';

export class KnowledgeInputError extends ValidationError {
  readonly problem: InputProblem;
  constructor(problem: InputProblem, message: string, cause?: unknown) {
    super(`knowledge_${problem}`, message, [], cause);
    this.problem = problem;
  }
}

const BY_EXTENSION: Record<string, DocumentFormat> = {
  md: 'markdown',
  markdown: 'markdown',
  txt: 'text',
  text: 'text',
  pdf: 'pdf',
};
const BY_MIME: Record<string, DocumentFormat> = {
  'text/markdown': 'markdown',
  'text/x-markdown': 'markdown',
  'text/plain': 'text',
  'application/pdf': 'pdf',
};

/**
 * The format from the file name's extension, else the declared type. The bytes must agree: a
 * PDF starts with `%PDF-`, and nothing else may.
 */
export function detectFormat(fileName: string, mimeType: string, head: Uint8Array): DocumentFormat {
  const ext = /\.([A-Za-z0-9]+)$/.exec(fileName)?.[1]?.toLowerCase();
  const format =
    (ext ? BY_EXTENSION[ext] : undefined) ?? BY_MIME[mimeType.split(';')[0]?.trim() ?? ''];
  if (!format) {
    throw new KnowledgeInputError(
      'unsupported_type',
      'upload a Markdown (.md), plain text (.txt) or PDF (.pdf) file',
    );
  }
  const isPdf = Buffer.from(head.subarray(0, 5)).toString('latin1') === '%PDF-';
  if (format === 'pdf' && !isPdf) {
    throw new KnowledgeInputError('unreadable_pdf', 'the file is named .pdf but is not a PDF');
  }
  if (format !== 'pdf' && isPdf) {
    throw new KnowledgeInputError('unsupported_type', 'the file is a PDF; name it .pdf');
  }
  return format;
}

/** The document's text. Throws KnowledgeInputError when there is none to be had. */
export async function extractDocumentText(
  bytes: Uint8Array,
  format: DocumentFormat,
): Promise<string> {
  if (bytes.byteLength === 0) throw new KnowledgeInputError('empty_document', 'the file is empty');
  let text: string;
  if (format === 'pdf') {
    try {
      const pdf = await getDocumentProxy(new Uint8Array(bytes));
      const { text: pages } = await extractText(pdf, { mergePages: false });
      // Lines inside a paragraph come out as separate lines; pages as paragraphs.
      text = pages.join('\n\n');
    } catch (err) {
      throw new KnowledgeInputError('unreadable_pdf', 'the PDF could not be read', err);
    }
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
    } catch (err) {
      throw new KnowledgeInputError('not_utf8', 'the file is not UTF-8 text', err);
    }
  }
  if (!text.trim()) {
    throw new KnowledgeInputError(
      format === 'pdf' ? 'no_text' : 'empty_document',
      format === 'pdf'
        ? 'the PDF holds no text (a scanned image?); upload a text version'
        : 'the file holds no text',
    );
  }
  return text;
}
