/**
 * Profile operations with no terminal attached: what the CLI (cli.ts) does for a person at a
 * shell, and the API (api/profiles) does for the console.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../infra/config.ts';
import { synthesizePreview, type PreviewResult } from './preview.ts';
import type { Profile } from './schema.ts';
import { renderProfile, type TemplateValues } from './template.ts';

export interface PreviewAudio {
  wav: Buffer;
  result: PreviewResult;
}

/**
 * The profile's first message, filled in and spoken in its voice, as WAV bytes. Throws
 * TemplateError when the first message needs a value that was not given, PreviewError when no
 * voice could speak it.
 */
export async function previewFirstMessage(
  profile: Profile,
  opts: { values?: TemplateValues; offline?: boolean; providers?: Config['providers'] },
): Promise<PreviewAudio> {
  const rendered = renderProfile(profile, opts.values ?? {});
  const dir = await mkdtemp(join(tmpdir(), 'voicecare-preview-'));
  try {
    const outPath = join(dir, 'first-message.wav');
    const result = await synthesizePreview({
      text: rendered.firstMessage,
      voice: profile.voice,
      language: profile.language,
      outPath,
      offline: opts.offline ?? false,
      providers: opts.providers,
    });
    return { wav: await readFile(outPath), result };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
