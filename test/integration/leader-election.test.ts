import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import type { KubeClient } from '../../lib/kube/client.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { createTestNamespace, deleteNamespace, eventually, testClient } from '../harness/kube.js';

const LEASE_DURATION_MS = 15_000;
const RETRY_PERIOD_MS = 2_000;

interface Entry {
  identity: string;
  at: number;
}

describe('leader election between two manager processes', () => {
  let client: KubeClient;
  let namespace: string;
  const children: ChildProcess[] = [];

  const startManager = (identity: string) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/counting-manager.ts'], {
      env: {
        ...process.env,
        NAMESPACE: namespace,
        IDENTITY: identity,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      },
      stdio: 'inherit',
    });
    children.push(child);
    return child;
  };

  const sequence = async (): Promise<Entry[]> => {
    const counter = await client.get<KubeObject & { data?: Record<string, string> }>(
      coreTypes.configMap,
      'counter',
      namespace,
    );
    return (counter.data?.sequence ?? '')
      .split(',')
      .filter(Boolean)
      .map((entry) => {
        const [identity = '', at = '0'] = entry.split('@');
        return { identity, at: Number(at) };
      });
  };

  /** Identities in order of reconciling, with consecutive repeats collapsed: "a,b" means a then b, never both. */
  const turns = (entries: Entry[]) =>
    entries.map((e) => e.identity).filter((id, i, all) => id !== all[i - 1]);

  beforeAll(async () => {
    client = testClient();
    namespace = await createTestNamespace(client, 'leader');
    await client.create(coreTypes.configMap, { metadata: { name: 'counter', namespace }, data: {} });
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await deleteNamespace(client, namespace);
  });

  it('only the leader reconciles; a killed leader is replaced within the lease duration; a stopped one hands over at once', async () => {
    const first = startManager('first');
    await eventually(
      'first manager leads',
      async () => (await sequence()).some((e) => e.identity === 'first'),
      60_000,
    );
    startManager('second');
    // The standby has a warm cache but must not reconcile while the leader renews.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    expect(turns(await sequence())).toEqual(['first']);

    const killedAt = Date.now();
    first.kill('SIGKILL');
    await eventually(
      'second manager takes over',
      async () => (await sequence()).some((e) => e.identity === 'second'),
      40_000,
    );
    const entries = await sequence();
    const lastOfFirst = entries.filter((e) => e.identity === 'first').at(-1)?.at ?? 0;
    const firstOfSecond = entries.find((e) => e.identity === 'second')?.at ?? 0;
    // client-go semantics: the standby waits a full lease duration after it last saw a renewal,
    // which may have been up to one retry period before the kill, and then polls every retry period.
    expect(firstOfSecond - killedAt).toBeLessThanOrEqual(LEASE_DURATION_MS + 2 * RETRY_PERIOD_MS);
    expect(firstOfSecond).toBeGreaterThan(lastOfFirst);
    expect(turns(entries)).toEqual(['first', 'second']);

    // Graceful stop releases the lease: a new standby takes over well before a lease duration.
    const third = startManager('third');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const second = children[1];
    const stoppedAt = Date.now();
    second?.kill('SIGTERM');
    await eventually(
      'third manager takes over after release',
      async () => (await sequence()).some((e) => e.identity === 'third'),
      30_000,
    );
    const final = await sequence();
    const handover = (final.find((e) => e.identity === 'third')?.at ?? 0) - stoppedAt;
    expect(handover).toBeLessThan(LEASE_DURATION_MS / 2);
    expect(turns(final)).toEqual(['first', 'second', 'third']);
    third.kill('SIGTERM');
  }, 120_000);
});
