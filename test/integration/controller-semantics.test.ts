import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KubeClient } from '../../lib/kube/client.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { createLogger } from '../../lib/log.js';
import { TerminalError } from '../../lib/runtime/controller.js';
import { Manager } from '../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../lib/runtime/metrics.js';
import { createTestNamespace, deleteNamespace, eventually, testClient } from '../harness/kube.js';

describe('controller error handling and requeues', () => {
  let client: KubeClient;
  let namespace: string;
  let manager: Manager;
  let running: Promise<unknown>;
  const metrics = new RuntimeMetrics({ processMetrics: false });
  const calls = new Map<string, number[]>();
  let inFlight = 0;
  let maxInFlight = 0;

  beforeAll(async () => {
    client = testClient();
    namespace = await createTestNamespace(client, 'semantics');
    // The permanent failure below is logged as an error by design: only fatal lines here.
    manager = new Manager({ client, log: createLogger('semantics-test', { level: 'fatal' }), metrics });
    manager.addController({
      name: 'semantics',
      for: coreTypes.configMap,
      workers: 4,
      reconcile: async ({ namespace: ns, name }) => {
        if (ns !== namespace) return;
        calls.set(name, [...(calls.get(name) ?? []), Date.now()]);
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          await new Promise((resolve) => setTimeout(resolve, 5));
          if (name === 'throws') throw new Error('boom');
          if (name === 'terminal') throw new TerminalError('bad input');
          if (name === 'later') return { requeueAfterMs: 300 };
        } finally {
          inFlight -= 1;
        }
      },
    });
    running = manager.start();
    for (const name of ['throws', 'terminal', 'later', 'ok']) {
      await client.create(coreTypes.configMap, { metadata: { name, namespace } });
    }
  });

  afterAll(async () => {
    manager.stop();
    await running;
    await deleteNamespace(client, namespace);
  });

  it('retries a failing key with growing delays while the other keys carry on', async () => {
    await eventually('several retries', () => (calls.get('throws')?.length ?? 0) >= 6, 10_000);
    const times = calls.get('throws') ?? [];
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t));
    // 5 ms base doubling: the n-th retry waits at least 5 * 2^n ms. A loaded machine only adds
    // to the gaps, so the floors are what a missing or broken backoff would miss.
    const floors = gaps.map((_, i) => 5 * 2 ** i - 1);
    expect(gaps.map((gap, i) => gap >= floors[i]!)).toEqual(gaps.map(() => true));
    expect(calls.get('ok')).toHaveLength(1);
  });

  it('does not retry a terminal error', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(calls.get('terminal')).toHaveLength(1);
  });

  it('calls again after requeueAfter', async () => {
    const times = calls.get('later') ?? [];
    expect(times.length).toBeGreaterThanOrEqual(3);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(290);
  });

  it('ran keys concurrently on several workers and counted everything', async () => {
    expect(maxInFlight).toBeGreaterThan(1);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/controller_runtime_reconcile_errors_total\{controller="semantics"\} [1-9]/);
    expect(text).toMatch(/controller_runtime_terminal_reconcile_errors_total\{controller="semantics"\} 1\n/);
    expect(text).toMatch(
      /controller_runtime_reconcile_total\{controller="semantics",result="requeue_after"\} [1-9]/,
    );
    expect(text).toMatch(/workqueue_retries_total\{name="semantics"\} [1-9]/);
  });

  it('a changed object is reconciled again even after a terminal error', async () => {
    const current = await client.get(coreTypes.configMap, 'terminal', namespace);
    await client.update(coreTypes.configMap, { ...current, data: { fixed: 'true' } });
    await eventually(
      'terminal key reconciled after change',
      () => (calls.get('terminal')?.length ?? 0) === 2,
    );
  });
});

describe('a manager stopped while it starts', () => {
  it('returns from start() even though its caches never synced (no workers left running)', async () => {
    const manager = new Manager({
      client: testClient(),
      log: createLogger('stop-during-start-test'),
      metrics: new RuntimeMetrics({ processMetrics: false }),
    });
    manager.addController({
      name: 'config-maps',
      for: coreTypes.configMap,
      reconcile: async () => undefined,
    });
    manager.addController({ name: 'secrets', for: coreTypes.secret, reconcile: async () => undefined });
    const started = manager.start();
    manager.stop();
    const outcome = await Promise.race([
      started,
      new Promise((resolve) => setTimeout(() => resolve('still running'), 15_000)),
    ]);
    expect(outcome).toBe('stopped');
  });
});
