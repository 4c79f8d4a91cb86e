import { randomBytes } from 'node:crypto';
import { KubeClient } from '../../lib/kube/client.js';
import { isAlreadyExists, isNotFound } from '../../lib/kube/errors.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { blockhostTypes, HOST_CONFIG_NAME } from '../../lib/api/v1alpha1/index.js';
import { waitFor } from './processes.js';

/** The client for the cluster the jest global setup prepared (or the one in KUBECONFIG). */
export function testClient(): KubeClient {
  if (!process.env.KUBECONFIG)
    throw new Error('KUBECONFIG is not set: run tests through jest (global setup starts the cluster)');
  return KubeClient.fromFile(process.env.KUBECONFIG);
}

/** A fresh namespace per test file, so files can run in parallel on one cluster. */
export async function createTestNamespace(client: KubeClient, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await client.create(coreTypes.namespace, { metadata: { name, labels: { 'blockhost.io/test': 'true' } } });
  return name;
}

export async function deleteNamespace(client: KubeClient, name: string): Promise<void> {
  await client.delete(coreTypes.namespace, name).catch((error: unknown) => {
    if (!isNotFound(error)) throw error;
  });
}

/** Waits until `check` returns true (re-running it), with a readable failure message. */
export async function eventually(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(what, async () => check(), { timeoutMs, intervalMs: 100 });
}

/**
 * How long a test file may wait for a cluster lock. Jest runs two files at once, so a waiter waits
 * at most for one other file's whole run while it holds the lock (an e2e purchase takes minutes).
 */
export const CLUSTER_LOCK_WAIT_MS = 600_000;

/**
 * The timeout for a beforeAll that claims the HostConfig: the lock wait plus the hook's own work,
 * so a file queued behind a long e2e file never fails on its hook timeout while merely waiting.
 */
export function withHostConfigClaimWait(setupMs: number): number {
  return CLUSTER_LOCK_WAIT_MS + setupMs;
}

/**
 * Serialises test files that need the same cluster-wide object (the singleton HostConfig `host`)
 * when jest runs files in parallel on one cluster. The lock is a ConfigMap, whose creation is
 * atomic; call the returned function to release it.
 */
export async function acquireClusterLock(client: KubeClient, name: string): Promise<() => Promise<void>> {
  const lockName = `test-lock-${name}`;
  const tryCreate = () =>
    client.create(coreTypes.configMap, { metadata: { name: lockName, namespace: 'default' } }).then(
      () => true,
      (error: unknown) => {
        if (isAlreadyExists(error)) return false;
        throw error;
      },
    );
  await waitFor(`test lock ${name}`, tryCreate, { timeoutMs: CLUSTER_LOCK_WAIT_MS, intervalMs: 250 });
  return () => client.delete(coreTypes.configMap, lockName, 'default');
}

/**
 * Exclusive use of the singleton HostConfig `host` for one test file: takes the cluster lock and
 * removes any leftover `host`. The returned function deletes `host` and releases the lock.
 */
export async function claimHostConfig(client: KubeClient): Promise<() => Promise<void>> {
  const release = await acquireClusterLock(client, 'hostconfig');
  const deleteHost = () =>
    client.delete(blockhostTypes.hostConfig, HOST_CONFIG_NAME).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  await deleteHost();
  return async () => {
    await deleteHost();
    await release();
  };
}
