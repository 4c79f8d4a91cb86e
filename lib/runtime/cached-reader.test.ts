// The cache-backed reader on a fake cache and API: answers from the cache, never older than its
// own last write, and updateStatus through it skips unchanged status and retries a stale copy fresh.
import { describe, expect, it } from '@jest/globals';
import type { KubeClient } from '../kube/client.js';
import { KubeApiError } from '../kube/errors.js';
import { objectKey, type KubeObject } from '../kube/object.js';
import type { ResourceType } from '../kube/resource-types.js';
import { CachedReader } from './cached-reader.js';
import type { Informer, InformerHandlers } from './informer.js';
import { updateStatus } from './status.js';

type Obj = KubeObject & { status?: { a?: string; b?: string } };
const type = {
  group: 'test.io',
  version: 'v1',
  plural: 'things',
  kind: 'Thing',
  namespaced: true,
} as ResourceType;

/** An informer cache the test fills by hand (a watch that lags as long as the test wants). */
function fakeCache() {
  const store = new Map<string, Obj>();
  const handlers: InformerHandlers<Obj>[] = [];
  const informer = {
    type,
    hasSynced: () => true,
    get: (key: string) => store.get(key),
    addHandlers: (h: InformerHandlers<Obj>) => handlers.push(h),
  } as unknown as Informer<Obj>;
  const show = (object: Obj) => {
    const previous = store.get(objectKey(object));
    store.set(objectKey(object), structuredClone(object));
    for (const h of handlers) {
      if (previous) h.onUpdate?.(previous, object);
      else h.onAdd?.(object);
    }
  };
  return { informer, show };
}

/** The API server's copy of one object, with resourceVersion checks on update; counts requests. */
function fakeApi(initial: Obj) {
  let stored = structuredClone(initial);
  const calls = { get: 0, update: 0, conflicts: 0 };
  const client = {
    get: async () => {
      calls.get += 1;
      return structuredClone(stored);
    },
    update: async (_t: ResourceType, object: Obj) => {
      calls.update += 1;
      if (object.metadata.resourceVersion !== stored.metadata.resourceVersion) {
        calls.conflicts += 1;
        throw new KubeApiError(409, 'Conflict', 'the object has been modified');
      }
      stored = {
        ...structuredClone(object),
        metadata: {
          ...object.metadata,
          resourceVersion: String(Number(stored.metadata.resourceVersion) + 1),
        },
      };
      return structuredClone(stored);
    },
  } as unknown as KubeClient;
  return {
    client,
    calls,
    stored: () => stored,
    edit: (change: (o: Obj) => void) => {
      change(stored);
      stored.metadata.resourceVersion = String(Number(stored.metadata.resourceVersion) + 1);
      return structuredClone(stored);
    },
  };
}

const thing: Obj = { metadata: { name: 'x', namespace: 'ns', resourceVersion: '1' }, status: { a: 'old' } };

describe('CachedReader', () => {
  it('answers from the cache without a request, and hands out copies', async () => {
    const { informer, show } = fakeCache();
    const api = fakeApi(thing);
    show(thing);
    const reader = new CachedReader(api.client, informer);
    const read = (await reader.get('x', 'ns'))!;
    read.status!.a = 'edited by the caller';
    expect((await reader.get('x', 'ns'))?.status?.a).toBe('old');
    expect(api.calls.get).toBe(0);
    expect(await reader.get('missing', 'ns')).toBeUndefined();
  });

  it('never returns a copy older than its own last write while the cache lags it', async () => {
    const { informer, show } = fakeCache();
    const api = fakeApi(thing);
    show(thing);
    const reader = new CachedReader(api.client, informer);
    const written = await updateStatus<Obj>(
      api.client,
      type,
      { name: 'x', namespace: 'ns' },
      (o) => {
        o.status = { a: 'new' };
      },
      { reader },
    );
    // The watch has not delivered the write yet: the API server answers.
    expect((await reader.get('x', 'ns'))?.status?.a).toBe('new');
    const getsBefore = api.calls.get;
    show(written);
    expect((await reader.get('x', 'ns'))?.status?.a).toBe('new');
    expect(api.calls.get).toBe(getsBefore);
  });

  it('forgets an own write the cache never shows once it is old (a relist skipped its version)', async () => {
    const { informer, show } = fakeCache();
    const api = fakeApi(thing);
    show(thing);
    let now = 0;
    const reader = new CachedReader(api.client, informer, () => now);
    reader.wrote({ ...thing, metadata: { ...thing.metadata, resourceVersion: '7' } });
    await reader.get('x', 'ns');
    expect(api.calls.get).toBe(1);
    now = 31_000;
    await reader.get('x', 'ns');
    expect(api.calls.get).toBe(1);
  });
});

describe('updateStatus through the reader', () => {
  it('costs no request when the cached status is already as wanted', async () => {
    const { informer, show } = fakeCache();
    const api = fakeApi(thing);
    show(thing);
    const reader = new CachedReader(api.client, informer);
    await updateStatus<Obj>(
      api.client,
      type,
      { name: 'x', namespace: 'ns' },
      (o) => o.status?.a !== 'old' && undefined,
      { reader },
    );
    expect(api.calls).toEqual({ get: 0, update: 0, conflicts: 0 });
  });

  it('a stale cached copy gets a 409 and the retry applies the change to the fresh object', async () => {
    const { informer, show } = fakeCache();
    const api = fakeApi(thing);
    show(thing);
    // Another writer's change the cache has not seen.
    api.edit((o) => (o.status = { ...o.status, b: 'theirs' }));
    const reader = new CachedReader(api.client, informer);
    await updateStatus<Obj>(
      api.client,
      type,
      { name: 'x', namespace: 'ns' },
      (o) => {
        o.status = { ...o.status, a: 'ours' };
      },
      { reader },
    );
    expect(api.calls.conflicts).toBe(1);
    expect(api.stored().status).toEqual({ a: 'ours', b: 'theirs' });
  });
});
