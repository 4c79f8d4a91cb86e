import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AddressClaims, ipv4Candidates } from '../../controllers/vm/addresses.js';
import { exampleVM } from '../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type VM } from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { createTestNamespace, deleteNamespace, eventually, testClient } from '../harness/kube.js';

describe('address claims on the real API server', () => {
  let kube: KubeClient;
  let namespace: string;
  const pool = { start: '10.20.0.1', end: '10.20.0.30', gateway: '10.20.0.1' };

  const makeVm = async (name: string) => {
    const vm = structuredClone(exampleVM) as VM;
    vm.metadata = { name, namespace };
    delete vm.spec.network;
    delete vm.status;
    return kube.create<VM>(blockhostTypes.vm, vm);
  };

  beforeAll(async () => {
    kube = testClient();
    namespace = await createTestNamespace(kube, 'addresses');
  });
  afterAll(async () => deleteNamespace(kube, namespace));

  it('gives 29 VMs claiming at once 29 different addresses, then reports the pool exhausted', async () => {
    const vms = await Promise.all(Array.from({ length: 29 }, (_, i) => makeVm(`vm-${i}`)));
    // Each VM gets its own claimer, as separate reconciles or processes would.
    const addresses = await Promise.all(
      vms.map((vm) => new AddressClaims(kube, namespace).claim('ipv4', vm, ipv4Candidates(pool))),
    );
    expect(new Set(addresses).size).toBe(29);
    expect(addresses).not.toContain(pool.gateway);
    const late = await makeVm('vm-late');
    await expect(
      new AddressClaims(kube, namespace).claim('ipv4', late, ipv4Candidates(pool)),
    ).rejects.toThrow(/ipv4 pool is exhausted/);
  });

  it('returns the address a VM already holds (a retry after a crash takes no second one)', async () => {
    const vm = await kube.get<VM>(blockhostTypes.vm, 'vm-3', namespace);
    const claims = new AddressClaims(kube, namespace);
    const first = await claims.claim('ipv4', vm, ipv4Candidates(pool));
    expect(await claims.claim('ipv4', vm, ipv4Candidates(pool))).toBe(first);
  });

  it('frees the address when its VM is deleted (garbage collection of the claim)', async () => {
    const vm = await kube.get<VM>(blockhostTypes.vm, 'vm-7', namespace);
    const address = await new AddressClaims(kube, namespace).claim('ipv4', vm, ipv4Candidates(pool));
    await kube.delete(blockhostTypes.vm, 'vm-7', namespace);
    const claimName = `blockhost-ipv4-${address.replace(/\./g, '-')}`;
    await eventually(
      'claim collected',
      () => kube.get(coreTypes.configMap, claimName, namespace).then(() => false, isNotFound),
      60_000,
    );
    const late = await kube.get<VM>(blockhostTypes.vm, 'vm-late', namespace);
    expect(await new AddressClaims(kube, namespace).claim('ipv4', late, ipv4Candidates(pool))).toBe(address);
  });
});
