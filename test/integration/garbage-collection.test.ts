import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KubeClient } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { setControllerReference } from '../../lib/runtime/owners.js';
import { createTestNamespace, deleteNamespace, eventually, testClient } from '../harness/kube.js';

const gone = (client: KubeClient, name: string, namespace?: string) => async () =>
  client.get(coreTypes.configMap, name, namespace).then(
    () => false,
    (error: unknown) => isNotFound(error),
  );

describe('owner references and namespace deletion (kube-controller-manager)', () => {
  let client: KubeClient;
  let namespace: string;

  beforeAll(async () => {
    client = testClient();
    namespace = await createTestNamespace(client, 'gc');
  });
  afterAll(async () => deleteNamespace(client, namespace));

  it('deleting an owner removes the dependents that name it as controller', async () => {
    const owner = await client.create<KubeObject>(coreTypes.configMap, {
      metadata: { name: 'owner', namespace },
    });
    for (const name of ['dep-1', 'dep-2']) {
      const dependent: KubeObject = { metadata: { name, namespace } };
      setControllerReference(dependent, owner, coreTypes.configMap);
      await client.create(coreTypes.configMap, dependent);
    }
    const bystander = await client.create<KubeObject>(coreTypes.configMap, {
      metadata: { name: 'bystander', namespace },
    });

    await client.delete(coreTypes.configMap, 'owner', namespace);

    await eventually(
      'dependents garbage-collected',
      async () => (await gone(client, 'dep-1', namespace)()) && (await gone(client, 'dep-2', namespace)()),
    );
    expect((await client.get(coreTypes.configMap, 'bystander', namespace)).metadata.uid).toBe(
      bystander.metadata.uid,
    );
  });

  it('refuses a second controller owner', async () => {
    const a = await client.create<KubeObject>(coreTypes.configMap, { metadata: { name: 'a', namespace } });
    const b = await client.create<KubeObject>(coreTypes.configMap, { metadata: { name: 'b', namespace } });
    const dependent: KubeObject = { metadata: { name: 'dep', namespace } };
    setControllerReference(dependent, a, coreTypes.configMap);
    expect(() => setControllerReference(dependent, b, coreTypes.configMap)).toThrow(
      /already controlled by ConfigMap\/a/,
    );
  });

  it('deleting a namespace removes everything in it', async () => {
    const doomed = await createTestNamespace(client, 'gc-ns');
    await client.create(coreTypes.configMap, { metadata: { name: 'inside', namespace: doomed } });
    await client.delete(coreTypes.namespace, doomed);
    await eventually(
      'namespace finalized',
      async () => client.get(coreTypes.namespace, doomed).then(() => false, isNotFound),
      60_000,
    );
  });
});
