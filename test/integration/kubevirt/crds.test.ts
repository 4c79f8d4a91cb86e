import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kubevirtTypes } from '../../../controllers/vm/backends/kubevirt/resource-types.js';
import { KubeApiError } from '../../../lib/kube/errors.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createTestNamespace, deleteNamespace, testClient } from '../../harness/kube.js';
import { installKubevirtCrds } from '../../harness/kubevirt/crds.js';

const kube = testClient();
let namespace: string;

beforeAll(async () => {
  await installKubevirtCrds(kube);
  namespace = await createTestNamespace(kube, 'kv-crds');
}, 300_000);

afterAll(() => deleteNamespace(kube, namespace));

describe("KubeVirt's CRDs in the test control plane", () => {
  it('are the real ones: group, versions, names, printer columns, status subresource', async () => {
    const vm = await kube.get<{
      metadata: object;
      spec: {
        names: { shortNames: string[] };
        versions: {
          name: string;
          storage: boolean;
          subresources?: object;
          additionalPrinterColumns?: { name: string }[];
        }[];
      };
    }>(coreTypes.customResourceDefinition, 'virtualmachines.kubevirt.io');
    expect(vm.spec.names.shortNames).toEqual(['vm', 'vms']);
    const v1 = vm.spec.versions.find((v) => v.name === 'v1');
    expect(v1?.storage).toBe(true);
    expect(v1?.subresources).toEqual({ status: {} });
    expect(v1?.additionalPrinterColumns?.map((c) => c.name)).toEqual(['Age', 'Status', 'Ready']);
    await expect(
      kube.get(coreTypes.customResourceDefinition, 'virtualmachineinstances.kubevirt.io'),
    ).resolves.toBeTruthy();
  });

  it('installing again (several workers at once) is harmless', async () => {
    await Promise.all([installKubevirtCrds(kube), installKubevirtCrds(kube)]);
  });

  it('the API server enforces the schema: a VirtualMachine without spec.template is rejected', async () => {
    const error = await kube
      .create(kubevirtTypes.virtualMachine, {
        metadata: { name: 'malformed', namespace },
        spec: {
          runStrategy: 'Always',
          template: { spec: { domain: { devices: {} }, volumes: 'not-a-list' } },
        },
      } as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).status).toBe(422);
    expect((error as KubeApiError).message).toMatch(/spec\.template\.spec\.volumes/);
  });
});
