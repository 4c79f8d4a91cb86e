// The informer's cache on the real API server holds no managedFields, and a cached object written
// back (as updateStatus with a cached reader does) leaves the stored managedFields as they were.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import { coreTypes } from '../kube/resource-types.js';
import { createLogger } from '../log.js';
import { createTestNamespace, deleteNamespace, eventually, testClient } from '../../test/harness/kube.js';
import { Informer } from './informer.js';

type ConfigMap = KubeObject & { data?: Record<string, string> };
const managedFields = (object: KubeObject) =>
  (object.metadata as { managedFields?: unknown[] }).managedFields;

describe('informer cache without managedFields', () => {
  let kube: KubeClient;
  let namespace: string;
  const stopping = new AbortController();

  beforeAll(async () => {
    kube = testClient();
    namespace = await createTestNamespace(kube, 'informer-mf');
  });
  afterAll(async () => {
    stopping.abort();
    await deleteNamespace(kube, namespace);
  });

  it('drops them from listed and watched objects; a cached copy written back keeps the stored ones', async () => {
    await kube.create<ConfigMap>(coreTypes.configMap, {
      metadata: { name: 'listed', namespace },
      data: { a: '1' },
    });
    const informer = new Informer<ConfigMap>(
      kube,
      coreTypes.configMap,
      createLogger('t', { level: 'silent' }),
      {
        namespace,
      },
    );
    void informer.start(stopping.signal);
    await informer.waitForSync();
    await kube.create<ConfigMap>(coreTypes.configMap, {
      metadata: { name: 'watched', namespace },
      data: { a: '1' },
    });
    await eventually(
      'the watched ConfigMap cached',
      () => informer.get(`${namespace}/watched`) !== undefined,
    );
    for (const name of ['listed', 'watched']) {
      expect(managedFields(await kube.get(coreTypes.configMap, name, namespace))?.length).toBeGreaterThan(0);
      expect(managedFields(informer.get(`${namespace}/${name}`)!)).toBeUndefined();
    }
    const cached = structuredClone(informer.get(`${namespace}/listed`)!);
    cached.data = { a: '2' };
    const stored = await kube.update<ConfigMap>(coreTypes.configMap, cached);
    expect(stored.data).toEqual({ a: '2' });
    expect(managedFields(stored)?.length).toBeGreaterThan(0);
  });
});
