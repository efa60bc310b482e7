import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { readProfile } from '../prompts/loader.ts';
import { MemoryProfileStore } from '../prompts/memory-store.ts';
import { InMemoryProfileCatalog, PublishedProfileCatalog } from './profiles.ts';

describe('PublishedProfileCatalog', () => {
  it('knows exactly the versions published in the profile store', async () => {
    const store = new MemoryProfileStore();
    const intake = await readProfile(
      fileURLToPath(new URL('../prompts/intake.yaml', import.meta.url)),
    );
    await store.publish(intake, { author: 'test', note: 'v1' });
    const catalog = new PublishedProfileCatalog(store);
    expect(await catalog.exists({ id: 'intake' })).toBe(true);
    expect(await catalog.exists({ id: 'intake', version: 1 })).toBe(true);
    expect(await catalog.exists({ id: 'intake', version: 2 })).toBe(false);
    expect(await catalog.exists({ id: 'post-discharge' })).toBe(false);
  });
});

describe('InMemoryProfileCatalog', () => {
  it('knows exactly the versions published to it, and records what it was asked', async () => {
    const catalog = new InMemoryProfileCatalog().publish('intake', 1);
    expect(await catalog.exists({ id: 'intake' })).toBe(true);
    expect(await catalog.exists({ id: 'intake', version: 2 })).toBe(false);
    catalog.publish('intake', 2);
    expect(await catalog.exists({ id: 'intake', version: 2 })).toBe(true);
    expect(await catalog.exists({ id: 'triage' })).toBe(false);
    expect(catalog.asked).toHaveLength(4);
  });
});
