import { useEffect, useState } from 'react';

/** The current time, re-read every `everyMs`: for durations that tick on screen. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · VoiceCare`;
  }, [title]);
}
