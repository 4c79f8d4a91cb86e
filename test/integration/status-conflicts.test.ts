import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { blockhostTypes, type VM } from '../../lib/api/v1alpha1/index.js';
import { exampleVM } from '../../lib/api/v1alpha1/examples.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isConflict } from '../../lib/kube/errors.js';
import { setCondition } from '../../lib/runtime/conditions.js';
import { updateStatus } from '../../lib/runtime/status.js';
import { createTestNamespace, deleteNamespace, testClient } from '../harness/kube.js';

describe('concurrent status writers', () => {
  let client: KubeClient;
  let namespace: string;

  beforeAll(async () => {
    client = testClient();
    namespace = await createTestNamespace(client, 'conflict');
  });
  afterAll(async () => deleteNamespace(client, namespace));

  it('converge without lost updates: every writer’s last condition survives', async () => {
    const name = 'contended';
    await client.create<VM>(blockhostTypes.vm, {
      ...structuredClone(exampleVM),
      metadata: { name, namespace },
    } as VM);
    const writers = 8;
    const rounds = 5;
    let conflicts = 0;
    const original = client.update.bind(client);
    client.update = ((...args: Parameters<KubeClient['update']>) =>
      original(...args).catch((error: unknown) => {
        if (isConflict(error)) conflicts += 1;
        throw error;
      })) as KubeClient['update'];

    await Promise.all(
      Array.from({ length: writers }, async (_, writer) => {
        for (let round = 1; round <= rounds; round += 1) {
          await updateStatus<VM>(client, blockhostTypes.vm, { name, namespace }, (latest) => {
            latest.status = {
              ...latest.status,
              conditions: setCondition(latest.status?.conditions, {
                type: `Writer${writer}`,
                status: 'True',
                reason: 'Round',
                message: `round ${round}`,
              }),
            } as VM['status'];
          });
        }
      }),
    );

    const stored = await client.get<VM>(blockhostTypes.vm, name, namespace);
    const messages = Object.fromEntries((stored.status?.conditions ?? []).map((c) => [c.type, c.message]));
    for (let writer = 0; writer < writers; writer += 1)
      expect(messages[`Writer${writer}`]).toBe(`round ${rounds}`);
    // The writers really raced: some writes were refused as stale and retried.
    expect(conflicts).toBeGreaterThan(0);
  });
});
