import { describe, expect, it } from 'vitest';
import { componentOf } from './profile-job.ts';

describe('componentOf', () => {
  it('names the package, the framework module, our folder, or what V8 does itself', () => {
    expect(
      componentOf('file:///w/node_modules/@livekit/agents/dist/voice/agent_activity.js', 'f'),
    ).toBe('@livekit/agents voice/agent_activity.js');
    expect(
      componentOf('file:///w/node_modules/@bufbuild/protobuf/dist/cjs/x.js', 'readField'),
    ).toBe('@bufbuild/protobuf');
    expect(componentOf('file:///w/node_modules/mongodb/lib/cmap/connection.js', 'f')).toBe(
      'mongodb',
    );
    expect(componentOf('file:///work/main/agent/session.ts', 'record')).toBe('ours: agent/');
    expect(componentOf('node:internal/webstreams/readablestream', 'pull')).toMatch(/^node core/);
    expect(componentOf('', '(garbage collector)')).toBe('GC');
    expect(componentOf('', '(idle)')).toBe('idle');
    expect(componentOf('', '(FfiHandle)')).toBe('native: FfiHandle');
  });
});
