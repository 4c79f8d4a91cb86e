import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AddressClaims, ipv4Candidates, ipv6Candidates } from '../../controllers/vm/addresses.js';
import { exampleVM } from '../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type VM } from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { createTestNamespace, deleteNamespace, testClient } from '../harness/kube.js';

describe('address claims on the real API server', () => {
  let kube: KubeClient;
  /** Where the claims live (the controller's namespace); the VMs live in two others. */
  let claimsNamespace: string;
  let tenants: string[];
  // A /23 pool crossing an octet boundary: 10.20.0.200 … 10.20.1.144 = 201 addresses.
  const pool = { start: '10.20.0.200', end: '10.20.1.144', gateway: '10.20.0.1' };
  const prefix = '2001:db8:7::/120';

  const makeVm = async (name: string, namespace: string) => {
    const vm = structuredClone(exampleVM) as VM;
    vm.metadata = { name, namespace };
    delete vm.spec.network;
    delete vm.status;
    return kube.create<VM>(blockhostTypes.vm, vm);
  };
  const claimCount = async () =>
    (
      await kube.list(coreTypes.configMap, {
        namespace: claimsNamespace,
        labelSelector: 'blockhost.io/address-family',
      })
    ).items.length;

  beforeAll(async () => {
    kube = testClient();
    claimsNamespace = await createTestNamespace(kube, 'claims');
    tenants = [await createTestNamespace(kube, 'tenant-a'), await createTestNamespace(kube, 'tenant-b')];
  });
  afterAll(async () => {
    for (const namespace of [claimsNamespace, ...(tenants ?? [])]) await deleteNamespace(kube, namespace);
  });

  let vms: VM[] = [];

  it('gives 200 VMs of two namespaces claiming at once 200 different IPv4 and IPv6 addresses', async () => {
    vms = await Promise.all(Array.from({ length: 200 }, (_, i) => makeVm(`vm-${i}`, tenants[i % 2]!)));
    // Each VM gets its own claimer, as separate reconciles or processes would.
    const [v4, v6] = await Promise.all([
      Promise.all(
        vms.map((vm) => new AddressClaims(kube, claimsNamespace).claim('ipv4', vm, ipv4Candidates(pool))),
      ),
      Promise.all(
        vms.map((vm) => new AddressClaims(kube, claimsNamespace).claim('ipv6', vm, ipv6Candidates(prefix))),
      ),
    ]);
    expect(new Set(v4).size).toBe(200);
    expect(new Set(v6).size).toBe(200);
    expect(v4).not.toContain(pool.gateway);
    expect(v6).not.toContain('2001:db8:7::1');
    expect(await claimCount()).toBe(400);
  }, 240_000);

  it('returns the address a VM already holds (a retry after a crash takes no second one)', async () => {
    const claims = new AddressClaims(kube, claimsNamespace);
    const first = await claims.claim('ipv4', vms[3]!, ipv4Candidates(pool));
    expect(await claims.claim('ipv4', vms[3]!, ipv4Candidates(pool))).toBe(first);
    expect(await claimCount()).toBe(400);
  });

  it('reports the pool exhausted, and a released address is handed out again', async () => {
    const claims = new AddressClaims(kube, claimsNamespace);
    const [late, later] = [await makeVm('vm-late', tenants[0]!), await makeVm('vm-later', tenants[1]!)];
    const lastFree = await claims.claim('ipv4', late, ipv4Candidates(pool));
    await expect(claims.claim('ipv4', later, ipv4Candidates(pool))).rejects.toThrow(/ipv4 pool is exhausted/);

    const freed = await claims.claim('ipv4', vms[7]!, ipv4Candidates(pool));
    await claims.release(vms[7]!);
    await claims.release(vms[7]!); // idempotent
    expect(await claims.claim('ipv4', later, ipv4Candidates(pool))).toBe(freed);
    expect(freed).not.toBe(lastFree);
    // vm-7 also gave back its IPv6 address.
    expect(await claimCount()).toBe(400 + 1 - 2 + 1);
  });
});
