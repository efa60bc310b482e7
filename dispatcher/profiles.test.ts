import { describe, expect, it } from 'vitest';
import { FixedProfileCatalog, InMemoryProfileCatalog } from './profiles.ts';

describe('FixedProfileCatalog', () => {
  const catalog = new FixedProfileCatalog(['intake', 'post-discharge@2', 'post-discharge@3']);

  it('accepts any version of a profile listed without one', async () => {
    expect(await catalog.exists({ id: 'intake' })).toBe(true);
    expect(await catalog.exists({ id: 'intake', version: 17 })).toBe(true);
  });

  it('accepts only the listed versions of a profile listed with versions', async () => {
    expect(await catalog.exists({ id: 'post-discharge', version: 3 })).toBe(true);
    expect(await catalog.exists({ id: 'post-discharge' })).toBe(true);
    expect(await catalog.exists({ id: 'post-discharge', version: 1 })).toBe(false);
  });

  it('refuses profiles it does not list', async () => {
    expect(await catalog.exists({ id: 'medication-adherence' })).toBe(false);
  });

  it('fails fast on an entry that is not "id" or "id@version"', () => {
    expect(() => new FixedProfileCatalog(['Intake'])).toThrow(/"Intake"/);
    expect(() => new FixedProfileCatalog(['intake@0'])).toThrow(/"intake@0"/);
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
