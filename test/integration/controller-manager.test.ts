import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { blockhostTypes, type HostConfig } from '../../lib/api/v1alpha1/index.js';
import { exampleHostConfig } from '../../lib/api/v1alpha1/examples.js';
import type { KubeClient } from '../../lib/kube/client.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { findCondition, isConditionTrue } from '../../lib/runtime/conditions.js';
import { SETUP_STEPS } from '../../controllers/hostconfig/ready.js';
import { freePort } from '../harness/processes.js';
import {
  claimHostConfig,
  withHostConfigClaimWait,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
} from '../harness/kube.js';

interface Lease extends KubeObject {
  spec?: { holderIdentity?: string };
}

describe('controller manager process', () => {
  let client: KubeClient;
  let namespace: string;
  let release: () => Promise<void>;
  let manager: ChildProcess;
  let healthPort: number;

  const hostConfig = () => client.get<HostConfig>(blockhostTypes.hostConfig, 'host');
  const ready = async () => findCondition((await hostConfig()).status?.conditions, 'Ready');

  beforeAll(async () => {
    client = testClient();
    release = await claimHostConfig(client);
    namespace = await createTestNamespace(client, 'manager');
    healthPort = await freePort();
    manager = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'controllers/main.ts',
        `--health-port=${healthPort}`,
        '--health-host=127.0.0.1',
        `--leader-election-namespace=${namespace}`,
        '--identity=test-manager',
      ],
      { env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' }, stdio: 'inherit' },
    );
  }, withHostConfigClaimWait(120_000));

  afterAll(async () => {
    manager.kill('SIGKILL');
    await deleteNamespace(client, namespace);
    await release();
  });

  it('serves /healthz and /readyz and holds the lease', async () => {
    await eventually('readyz', async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok, 60_000);
    expect((await fetch(`http://127.0.0.1:${healthPort}/healthz`)).status).toBe(200);
    await eventually('lease held', async () => {
      const lease = await client.get<Lease>(coreTypes.lease, 'blockhost-controller-manager', namespace);
      return lease.spec?.holderIdentity === 'test-manager';
    });
  });

  it('maintains observedGeneration and a Ready condition summarising the setup steps', async () => {
    const host = structuredClone(exampleHostConfig) as HostConfig;
    // A chain nobody answers at: setup gets as far as the server key and reports the rest.
    host.spec.chain.rpcEndpoints = [`http://127.0.0.1:${await freePort()}`];
    await client.create<HostConfig>(blockhostTypes.hostConfig, host);
    await eventually('Ready reported', async () => (await ready())?.reason === 'SetupPending');
    const first = await hostConfig();
    expect(first.status?.observedGeneration).toBe(first.metadata.generation);
    await eventually('the key step ran', async () =>
      isConditionTrue((await hostConfig()).status?.conditions, 'KeysReady'),
    );
    const pending = SETUP_STEPS.filter((step) => step !== 'KeysReady');
    await eventually(
      'Ready names the steps still pending',
      async () => (await ready())?.message === `waiting for ${pending.join(', ')}`,
    );
    await eventually(
      'ContractsReady reports the unreachable chain',
      async () =>
        findCondition((await hostConfig()).status?.conditions, 'ContractsReady')?.status === 'False',
    );

    // A spec change bumps the generation; the controller catches up.
    await client.patch(blockhostTypes.hostConfig, 'host', undefined, { spec: { gcGraceDays: 9 } }, 'merge');
    await eventually('observedGeneration follows the spec', async () => {
      const current = await hostConfig();
      return (
        current.metadata.generation === 2 &&
        current.status?.observedGeneration === 2 &&
        findCondition(current.status?.conditions, 'Ready')?.observedGeneration === 2
      );
    });
  });

  it('records Events about readiness and step changes', async () => {
    await eventually('events recorded', async () => {
      const events = await client.list<KubeObject & { reason?: string; regarding?: { name?: string } }>(
        coreTypes.event,
        {
          namespace: 'default',
        },
      );
      const reasons = events.items.filter((e) => e.regarding?.name === 'host').map((e) => e.reason);
      return reasons.includes('SetupPending') && reasons.includes('KeyAvailable');
    });
  });

  it('exposes controller-runtime metrics', async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    // Setup requeues itself (backoff while steps fail, a periodic recheck once done).
    expect(metrics).toMatch(
      /controller_runtime_reconcile_total\{controller="hostconfig",result="requeue_after"\} [1-9]/,
    );
    expect(metrics).toMatch(/blockhost_setup_step_ready\{step="KeysReady"\} 1/);
    expect(metrics).toContain('leader_election_master_status{name="blockhost-controller-manager"} 1');
    expect(metrics).toMatch(/workqueue_adds_total\{name="hostconfig"\} [1-9]/);
    expect(metrics).toContain('controller_runtime_reconcile_time_seconds_bucket');
  });

  it('stops cleanly on SIGTERM and releases the lease', async () => {
    manager.kill('SIGTERM');
    const [code] = (await once(manager, 'exit')) as [number | null];
    expect(code).toBe(0);
    const lease = await client.get<Lease>(coreTypes.lease, 'blockhost-controller-manager', namespace);
    expect(lease.spec?.holderIdentity).toBe('');
  });
});
