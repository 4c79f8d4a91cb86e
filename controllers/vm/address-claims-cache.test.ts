// Address claims picked from a claims cache on the real API server: concurrent reconciles in one
// process get different addresses without AlreadyExists storms, a stale cache (another process's
// claims not seen) still never shares an address, and a recorded address costs no request.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exampleVM } from '../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type VM } from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isAlreadyExists } from '../../lib/kube/errors.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { createLogger } from '../../lib/log.js';
import { Informer } from '../../lib/runtime/informer.js';
import { createTestNamespace, deleteNamespace, testClient } from '../../test/harness/kube.js';
import { AddressClaims, ipv4Candidates, type Claim } from './addresses.js';

const log = createLogger('address-claims-cache-test', { level: 'silent' });
const pool = { start: '10.30.0.10', end: '10.30.0.250', gateway: '10.30.0.1' };

describe('address claims from the claims cache', () => {
  let kube: KubeClient;
  let namespace: string;
  let informer: Informer<Claim>;
  const stopping = new AbortController();
  const calls = { create: 0, alreadyExists: 0, get: 0 };

  const makeVm = (name: string) => {
    const vm = structuredClone(exampleVM) as VM;
    vm.metadata = { name, namespace };
    delete vm.spec.network;
    delete vm.status;
    return kube.create<VM>(blockhostTypes.vm, vm);
  };

  beforeAll(async () => {
    kube = testClient();
    namespace = await createTestNamespace(kube, 'claims-cache');
    const create = kube.create.bind(kube);
    kube.create = (async (...args: Parameters<KubeClient['create']>) => {
      calls.create += 1;
      return create(...args).catch((error: unknown) => {
        if (isAlreadyExists(error)) calls.alreadyExists += 1;
        throw error;
      });
    }) as KubeClient['create'];
    const get = kube.get.bind(kube);
    kube.get = (async (...args: Parameters<KubeClient['get']>) => {
      calls.get += 1;
      return get(...args);
    }) as KubeClient['get'];
    informer = new Informer<Claim>(kube, coreTypes.configMap, log, AddressClaims.informerOptions(namespace));
    void informer.start(stopping.signal);
    await informer.waitForSync();
  });
  afterAll(async () => {
    stopping.abort();
    await deleteNamespace(kube, namespace);
  });

  it('gives 40 VMs reconciled at once 40 addresses with no AlreadyExists, then a recorded one for free', async () => {
    const vms = await Promise.all(Array.from({ length: 40 }, (_, i) => makeVm(`vm-${i}`)));
    const claims = new AddressClaims(kube, namespace, informer);
    Object.assign(calls, { create: 0, alreadyExists: 0, get: 0 });
    const addresses = await Promise.all(vms.map((vm) => claims.claim('ipv4', vm, ipv4Candidates(pool))));
    expect(new Set(addresses).size).toBe(40);
    expect(calls).toEqual({ create: 40, alreadyExists: 0, get: 0 });
    for (let i = 0; i < 100 && informer.list().length < 40; i += 1)
      await new Promise((r) => setTimeout(r, 50));
    // The next reconciles of those VMs: the cache shows each its claim.
    for (const [i, vm] of vms.entries())
      expect(await claims.claimExact('ipv4', vm, addresses[i]!)).toBe(true);
    expect(calls.create).toBe(40);
    // Another VM's address is still refused.
    expect(await claims.claimExact('ipv4', vms[0]!, addresses[1]!)).toBe(false);
  });

  it('a cache that does not show another process’s claims still never hands out one address twice', async () => {
    const vms = await Promise.all(Array.from({ length: 20 }, (_, i) => makeVm(`other-${i}`)));
    // This process's cache is frozen (shows none of the new claims); the other process lists.
    const frozen = {
      hasSynced: () => true,
      list: () => [],
      get: () => undefined,
      addHandlers: () => undefined,
    };
    const here = new AddressClaims(kube, namespace, frozen as unknown as Informer<Claim>);
    const there = new AddressClaims(kube, namespace);
    const got = await Promise.all(
      vms.map((vm, i) => (i % 2 ? here : there).claim('ipv4', vm, ipv4Candidates(pool))),
    );
    const all = (await kube.list<Claim>(coreTypes.configMap, { namespace })).items.map(
      (c) => c.data?.address,
    );
    expect(new Set(got).size).toBe(20);
    expect(new Set(all).size).toBe(all.length);
  });
});
