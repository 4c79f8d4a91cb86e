import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { createLogger } from '../../lib/log.js';
import { Backoff } from '../../lib/backoff.js';
import { Informer } from '../../lib/runtime/informer.js';
import { Manager } from '../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../lib/runtime/metrics.js';
import { LocalControlPlane } from '../harness/control-plane/control-plane.js';
import { createTestNamespace, eventually } from '../harness/kube.js';
import { TcpProxy } from '../harness/tcp-proxy.js';

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/**
 * The reconciler mirrors data.value into the annotation `observed`, writing with the resourceVersion
 * it read from the cache: a reconcile working from a stale copy gets 409 and is retried, so it can
 * never persist an old value.
 */
function mirrorReconciler(client: KubeClient, manager: Manager, seen: Map<string, string[]>) {
  const informer = manager.informer<ConfigMap>(coreTypes.configMap);
  return async ({ namespace, name }: { namespace?: string; name: string }) => {
    const key = `${namespace}/${name}`;
    const cached = informer.get(key);
    const value = cached?.data?.value;
    seen.set(key, [...(seen.get(key) ?? []), value ?? '<deleted>']);
    if (!cached || value === undefined || cached.metadata.annotations?.observed === value) return;
    await client.update(coreTypes.configMap, {
      ...cached,
      metadata: { ...cached.metadata, annotations: { ...cached.metadata.annotations, observed: value } },
    });
  };
}

describe('informers and queue across a kube-apiserver crash', () => {
  let plane: LocalControlPlane;
  let client: KubeClient;
  let manager: Manager;
  let namespace: string;
  let done: Promise<unknown>;
  const seen = new Map<string, string[]>();

  beforeAll(async () => {
    // A private control plane: this test kills its API server.
    plane = await LocalControlPlane.start();
    client = KubeClient.fromFile(plane.kubeconfigPath);
    namespace = await createTestNamespace(client, 'outage');
    manager = new Manager({
      client,
      log: createLogger('outage-test'),
      metrics: new RuntimeMetrics({ processMetrics: false }),
    });
    manager.informer(coreTypes.configMap, {});
    manager.addController<ConfigMap>({
      name: 'mirror',
      for: coreTypes.configMap,
      reconcile: mirrorReconciler(client, manager, seen),
      workers: 2,
    });
    done = manager.start();
  }, 180_000);

  afterAll(async () => {
    manager?.stop();
    await done;
    await plane?.stop();
  });

  /** A client for the same cluster whose connections run through `proxy`. */
  const throughProxy = (proxy: TcpProxy) => {
    const direct = new KubeConfig();
    direct.loadFromFile(plane.kubeconfigPath);
    const proxied = new KubeConfig();
    proxied.loadFromOptions({
      ...direct,
      clusters: direct.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${proxy.port}` })),
    });
    return new KubeClient(proxied, 2000);
  };

  const put = async (name: string, value: string) => {
    try {
      const current = await client.get<ConfigMap>(coreTypes.configMap, name, namespace);
      await client.update(coreTypes.configMap, { ...current, data: { value } });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await client.create<ConfigMap>(coreTypes.configMap, { metadata: { name, namespace }, data: { value } });
    }
  };

  const allMirrored = async (expected: Map<string, string>) => {
    const list = await client.list<ConfigMap>(coreTypes.configMap, { namespace });
    const actual = new Map(
      list.items.filter((i) => i.data?.value).map((i) => [i.metadata.name, i.metadata.annotations?.observed]),
    );
    return (
      [...expected].every(([name, value]) => actual.get(name) === value) && actual.size === expected.size
    );
  };

  it('recovers without a manager restart and reconciles every change made around the outage', async () => {
    const expected = new Map<string, string>();
    for (let i = 0; i < 20; i += 1) {
      await put(`cm-${i}`, 'v1');
      expected.set(`cm-${i}`, 'v1');
    }
    await eventually('initial objects mirrored', () => allMirrored(expected));

    // Changes right before the crash: their watch events may not have reached us yet.
    for (let i = 0; i < 10; i += 1) {
      await put(`cm-${i}`, 'v2-before');
      expected.set(`cm-${i}`, 'v2-before');
    }
    await plane.stopApiServer({ crash: true });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await plane.startApiServer();

    // Changes right after the restart, plus creations and deletions.
    for (let i = 5; i < 15; i += 1) {
      await put(`cm-${i}`, 'v3-after');
      expected.set(`cm-${i}`, 'v3-after');
    }
    for (let i = 20; i < 25; i += 1) {
      await put(`cm-${i}`, 'new');
      expected.set(`cm-${i}`, 'new');
    }
    for (let i = 15; i < 18; i += 1) {
      await client.delete(coreTypes.configMap, `cm-${i}`, namespace);
      expected.delete(`cm-${i}`);
    }

    await eventually('every change mirrored after the outage', () => allMirrored(expected), 60_000);
    // The last reconcile of each key saw the final value (or the deletion), never an older copy.
    for (const [name, value] of expected) expect(seen.get(`${namespace}/${name}`)?.at(-1)).toBe(value);
    for (let i = 15; i < 18; i += 1) expect(seen.get(`${namespace}/cm-${i}`)?.at(-1)).toBe('<deleted>');
    expect(manager.ready()).toBe(true);
  });

  it('a watch whose connection goes silent is detected and re-established', async () => {
    // The informer talks through a proxy that can turn its open connection into a black hole. Without
    // dead-watch detection it would wait on that connection forever and never see the new Secret.
    const proxy = await TcpProxy.start(Number(new URL(plane.server).port));
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(plane.kubeconfigPath);
    const proxied = new KubeConfig();
    proxied.loadFromOptions({
      ...kubeConfig,
      clusters: kubeConfig.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${proxy.port}` })),
    });
    const informer = new Informer(
      new KubeClient(proxied),
      coreTypes.secret,
      createLogger('silent-watch-test'),
      {
        namespace,
        inactivityTimeoutMs: 3000,
        backoff: new Backoff(50, 200),
      },
    );
    const stop = new AbortController();
    const running = informer.start(stop.signal);
    try {
      await informer.waitForSync();
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the watch connects after the list
      expect(proxy.freezeExisting()).toBeGreaterThan(0);
      await client.create(coreTypes.secret, { metadata: { name: 'after-silence', namespace } });
      await eventually(
        'secret seen after the dead watch is replaced',
        () => informer.get(`${namespace}/after-silence`) !== undefined,
        15_000,
      );
    } finally {
      stop.abort();
      await proxy.stop();
      await running;
    }
  });

  it('relists after 410 Gone and emits the changes it missed, deletions included', async () => {
    const gone = await createTestNamespace(client, 'gone');
    const proxy = await TcpProxy.start(Number(new URL(plane.server).port));
    const informer = new Informer<ConfigMap>(
      throughProxy(proxy),
      coreTypes.configMap,
      createLogger('gone-test'),
      {
        namespace: gone,
        // Skips the kube-root-ca.crt ConfigMap that kube-controller-manager puts in every namespace.
        labelSelector: 'test=gone',
        inactivityTimeoutMs: 2000,
        backoff: new Backoff(50, 200),
      },
    );
    const deleted: string[] = [];
    const added: string[] = [];
    informer.addHandlers({
      onAdd: (o) => added.push(o.metadata.name ?? ''),
      onDelete: (o) => deleted.push(o.metadata.name ?? ''),
    });
    const stop = new AbortController();
    const running = informer.start(stop.signal);
    try {
      const labels = { test: 'gone' };
      for (const name of ['a', 'b', 'c'])
        await client.create(coreTypes.configMap, { metadata: { name, namespace: gone, labels } });
      await eventually('initial objects cached', () => informer.list().length === 3);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const listsBefore = informer.stats.lists;
      proxy.freezeExisting();

      // While the informer is cut off: changes, then etcd compaction and an API server restart, so
      // its last resourceVersion no longer exists anywhere and resuming the watch must fail with 410.
      await client.delete(coreTypes.configMap, 'b', gone);
      await client.update(coreTypes.configMap, {
        metadata: { name: 'c', namespace: gone, labels },
        data: { changed: 'yes' },
      });
      await client.create(coreTypes.configMap, { metadata: { name: 'd', namespace: gone, labels } });
      await compactEtcd(plane.etcdUrl);
      await plane.stopApiServer();
      await plane.startApiServer();

      await eventually(
        'cache matches the server again',
        () =>
          informer
            .list()
            .map((o) => o.metadata.name)
            .sort()
            .join() === 'a,c,d',
        30_000,
      );
      expect(deleted).toEqual(['b']);
      expect(added).toEqual(['a', 'b', 'c', 'd']);
      expect(informer.get(`${gone}/c`)?.data).toEqual({ changed: 'yes' });
      expect(informer.stats.lists).toBeGreaterThan(listsBefore);
    } finally {
      stop.abort();
      await proxy.stop();
      await running;
    }
  });
});

/** Compacts etcd's history up to its current revision (etcd's v3 JSON gateway). */
async function compactEtcd(etcdUrl: string): Promise<void> {
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${etcdUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!response.ok) throw new Error(`etcd ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { header: { revision: string } };
  };
  const { header } = await post('/v3/kv/range', { key: Buffer.from('/').toString('base64') });
  await post('/v3/kv/compaction', { revision: header.revision, physical: true });
}
