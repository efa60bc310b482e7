/** Formatting for what staff read: durations, times and plain-word labels. */

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

const timeFmt = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

export const formatTime = (iso: string | Date): string => timeFmt.format(new Date(iso));
export const formatDateTime = (iso: string | Date): string => dateTimeFmt.format(new Date(iso));

export function formatAgo(iso: string, now = Date.now()): string {
  const s = Math.round((now - new Date(iso).getTime()) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return formatDateTime(iso);
}

/** `patient_left` → "Patient left". */
export const humanise = (code: string): string => {
  const words = code.replace(/[_.-]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

/** The last characters of an id: enough to tell sessions apart on a screen. */
export const shortId = (id: string): string => (id.length > 10 ? `…${id.slice(-8)}` : id);

/** "v3", or "latest" while the agent has not yet said which version it runs. */
export const versionLabel = (s: {
  profileVersion?: number;
  profile: { version?: number };
}): string => {
  const v = s.profileVersion ?? s.profile.version;
  return v === undefined ? '· latest' : `v${v}`;
};
