/**
 * Calendar dates as the protocol speaks them: a day, with no time and no zone. Stored and passed
 * as ISO `YYYY-MM-DD` strings; the arithmetic runs on UTC midnights, where every day is 24 hours.
 */

export interface CalendarDate {
  year: number;
  /** 1–12. */
  month: number;
  /** 1–31. */
  day: number;
}

const DAY_MS = 86_400_000;

/** 0 = Monday … 6 = Sunday (ISO order: a calendar week runs Monday to Sunday). */
export type Weekday = 0 | 1 | 2 | 3 | 4 | 5 | 6;

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The date, or null for one that does not exist (February 30th). */
export function makeDate(year: number, month: number, day: number): CalendarDate | null {
  if (!Number.isInteger(year) || !Number.isInteger(month) || !Number.isInteger(day)) return null;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return { year, month, day };
}

export function toIso(d: CalendarDate): string {
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  return `${pad(d.year, 4)}-${pad(d.month, 2)}-${pad(d.day, 2)}`;
}

/** Parses `YYYY-MM-DD`; throws on anything else, since only our own code produces these. */
export function fromIso(iso: string): CalendarDate {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  const d = m ? makeDate(Number(m[1]), Number(m[2]), Number(m[3])) : null;
  if (!d) throw new RangeError(`not a calendar date: ${iso}`);
  return d;
}

const toDayNumber = (d: CalendarDate): number => Date.UTC(d.year, d.month - 1, d.day) / DAY_MS;

function fromDayNumber(n: number): CalendarDate {
  const t = new Date(n * DAY_MS);
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

export function addDays(d: CalendarDate, days: number): CalendarDate {
  return fromDayNumber(toDayNumber(d) + days);
}

/** Whole days from `a` to `b` (negative when `b` is earlier). */
export function daysBetween(a: CalendarDate, b: CalendarDate): number {
  return toDayNumber(b) - toDayNumber(a);
}

export function weekday(d: CalendarDate): Weekday {
  // 1970-01-01 was a Thursday (3 in Monday-first order).
  return ((((toDayNumber(d) + 3) % 7) + 7) % 7) as Weekday;
}

/** The calendar date `now` falls on in `timeZone` (an IANA name such as America/Chicago). */
export function dateIn(now: Date, timeZone: string): CalendarDate {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
  }).formatToParts(now);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const d = makeDate(part('year'), part('month'), part('day'));
  if (!d) throw new RangeError(`cannot read the date in ${timeZone}`);
  return d;
}

/** Throws a RangeError for a time zone name the runtime does not know. */
export function assertTimeZone(timeZone: string): void {
  new Intl.DateTimeFormat('en-US', { timeZone });
}
