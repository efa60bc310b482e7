/**
 * Cuts a document's text into passages a patient can be read: by headings, then paragraphs,
 * each at most `maxChars` long (a longer paragraph is cut between sentences). Markdown syntax is
 * removed, so a passage read aloud verbatim sounds like the clinician's words, not markup.
 */
import { passageId, type DocumentFormat, type Passage } from './schema.ts';

export interface ChunkOptions {
  docId: string;
  version: number;
  format: DocumentFormat;
  /** @defaultValue 700 */
  maxChars?: number;
}

interface Section {
  heading: string[];
  paragraphs: string[];
}

/** Markdown inline syntax to plain words: links keep their text, emphasis and code lose marks. */
export function plainInline(line: string): string {
  return line
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/(\*|_)(\S(?:.*?\S)?)\1/g, '$2')
    .replace(/`([^`]+)`/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

function sectionsOfMarkdown(text: string): Section[] {
  const sections: Section[] = [{ heading: [], paragraphs: [] }];
  const path: string[] = [];
  let para: string[] = [];
  let inFence = false;
  const current = () => sections[sections.length - 1] as Section;
  const endPara = () => {
    const joined = para.join(' ').trim();
    if (joined) current().paragraphs.push(joined);
    para = [];
  };
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (/^\s*(```|~~~)/.test(line)) {
      inFence = !inFence;
      continue;
    }
    if (inFence) continue;
    const h = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      endPara();
      const level = (h[1] ?? '#').length;
      path.splice(level - 1);
      path[level - 1] = plainInline(h[2] ?? '');
      sections.push({ heading: path.filter(Boolean), paragraphs: [] });
      continue;
    }
    if (/^\s*([-*_])\s*(\1\s*){2,}$/.test(line) || /^\s*\|?[-: |]+\|?\s*$/.test(line)) {
      endPara();
      continue;
    }
    if (!line.trim()) {
      endPara();
      continue;
    }
    const item = /^\s*(?:[-*+]|\d+[.)])\s+(.*)$/.exec(line);
    const words = plainInline((item ? item[1] : line.replace(/^\s*>\s?/, '')) ?? '').replace(
      /\|/g,
      ' ',
    );
    // A list item is a sentence of its own when read aloud.
    if (item && para.length > 0) {
      const last = para[para.length - 1] ?? '';
      if (!/[.!?:;]$/.test(last)) para[para.length - 1] = `${last}.`;
    }
    para.push(words);
  }
  endPara();
  return sections;
}

function sectionsOfText(text: string): Section[] {
  const paragraphs = text
    .split(/\n\s*\n/)
    .map((p) =>
      p
        .replace(/-\n(?=[a-z])/g, '')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .filter(Boolean);
  return [{ heading: [], paragraphs }];
}

function sentencesOf(paragraph: string): string[] {
  return paragraph.match(/[^.!?]+(?:[.!?]+["')\]]*\s*|$)/g)?.map((s) => s.trim()) ?? [paragraph];
}

/** Cuts a too-long paragraph between sentences, and a too-long sentence between words. */
function fit(paragraph: string, maxChars: number): string[] {
  if (paragraph.length <= maxChars) return [paragraph];
  const out: string[] = [];
  let cur = '';
  const push = (piece: string) => {
    if (!cur) cur = piece;
    else if (cur.length + 1 + piece.length <= maxChars) cur = `${cur} ${piece}`;
    else {
      out.push(cur);
      cur = piece;
    }
  };
  for (const sentence of sentencesOf(paragraph)) {
    if (sentence.length <= maxChars) {
      push(sentence);
      continue;
    }
    for (const word of sentence.split(' ')) push(word.slice(0, maxChars));
  }
  if (cur) out.push(cur);
  return out;
}

/** The document's passages, numbered from 0 in reading order. Empty text gives none. */
export function chunkDocument(text: string, opts: ChunkOptions): Passage[] {
  const maxChars = opts.maxChars ?? 700;
  const normalised = text.replace(/\r\n?/g, '\n').replace(/\u00a0/g, ' ');
  const sections =
    opts.format === 'markdown' ? sectionsOfMarkdown(normalised) : sectionsOfText(normalised);
  const passages: Passage[] = [];
  for (const section of sections) {
    const heading = section.heading.join(' › ') || undefined;
    // Short paragraphs under one heading travel together, up to the bound.
    let cur = '';
    const flush = () => {
      if (!cur) return;
      const id = passageId(opts.docId, opts.version, passages.length);
      passages.push({ id, ...(heading ? { heading } : {}), text: cur });
      cur = '';
    };
    for (const paragraph of section.paragraphs.flatMap((p) => fit(p, maxChars))) {
      if (cur && cur.length + 1 + paragraph.length > maxChars) flush();
      cur = cur ? `${cur} ${paragraph}` : paragraph;
    }
    flush();
  }
  return passages;
}
