/**
 * What the API's versioned, approved resources (knowledge documents, education scripts) share
 * in how they are named and shown.
 */

/** Who did something, and when. */
export interface Stamp {
  by: string;
  at: Date;
}

/** A stamp as the API returns it. */
export const stampView = (s: Stamp | undefined) =>
  s ? { by: s.by, at: s.at.toISOString() } : undefined;

/**
 * A resource id made from its title: lower case, ASCII letters and digits joined by hyphens, at
 * most 50 characters; `<fallback>-…` when too little of the title is left.
 */
export function slugOf(title: string, fallback: string): string {
  const s = title
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50)
    .replace(/-+$/, '');
  return s.length >= 2 ? s : `${fallback}-${s || 'x'}`;
}
