// Shared by the VM controller tests here: VM objects are removed while their controller still runs,
// so no VM with a finalizer outlives its test file and wakes the VM controller of the next one.
import { blockhostTypes, type VM } from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { isNotFound } from '../../../lib/kube/errors.js';
import { eventually } from '../../harness/kube.js';

/** Deletes every VM in `namespaces` and waits until the controller has finalized them all. */
export async function deleteVmsAndWait(kube: KubeClient, namespaces: string[]): Promise<void> {
  const list = async () =>
    (
      await Promise.all(namespaces.map((namespace) => kube.list<VM>(blockhostTypes.vm, { namespace })))
    ).flatMap((page) => page.items);
  for (const vm of await list())
    await kube.delete(blockhostTypes.vm, vm.metadata.name!, vm.metadata.namespace).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  await eventually('the test VMs finalized', async () => (await list()).length === 0, 60_000);
}
