import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KubeClient } from '../../lib/kube/client.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import {
  ensureFinalizer,
  hasFinalizer,
  isBeingDeleted,
  removeFinalizer,
} from '../../lib/runtime/finalizers.js';
import { createTestNamespace, deleteNamespace, testClient } from '../harness/kube.js';

const FINALIZER = 'blockhost.io/test-cleanup';

describe('finalizer helpers', () => {
  let client: KubeClient;
  let namespace: string;

  beforeAll(async () => {
    client = testClient();
    namespace = await createTestNamespace(client, 'finalizers');
  });
  afterAll(async () => deleteNamespace(client, namespace));

  it('hold deletion until cleanup removes the finalizer', async () => {
    const created = await client.create<KubeObject>(coreTypes.configMap, {
      metadata: { name: 'guarded', namespace },
    });
    const guarded = await ensureFinalizer(client, coreTypes.configMap, created, FINALIZER);
    expect(hasFinalizer(guarded, FINALIZER)).toBe(true);
    expect(await ensureFinalizer(client, coreTypes.configMap, guarded, FINALIZER)).toBe(guarded);

    await client.delete(coreTypes.configMap, 'guarded', namespace);
    const terminating = await client.get<KubeObject>(coreTypes.configMap, 'guarded', namespace);
    expect(isBeingDeleted(terminating)).toBe(true);

    await removeFinalizer(client, coreTypes.configMap, terminating, FINALIZER);
    await expect(client.get(coreTypes.configMap, 'guarded', namespace)).rejects.toMatchObject({
      status: 404,
    });
  });

  it('refuse to edit the list from a stale copy (no lost finalizers)', async () => {
    const created = await client.create<KubeObject>(coreTypes.configMap, {
      metadata: { name: 'raced', namespace },
    });
    await ensureFinalizer(client, coreTypes.configMap, created, 'blockhost.io/other');
    // `created` predates the other finalizer; writing from it would drop that finalizer.
    await expect(ensureFinalizer(client, coreTypes.configMap, created, FINALIZER)).rejects.toMatchObject({
      status: 409,
      reason: 'Conflict',
    });
    const stored = await client.get<KubeObject>(coreTypes.configMap, 'raced', namespace);
    expect(stored.metadata.finalizers).toEqual(['blockhost.io/other']);
    await removeFinalizer(client, coreTypes.configMap, stored, 'blockhost.io/other');
  });
});
