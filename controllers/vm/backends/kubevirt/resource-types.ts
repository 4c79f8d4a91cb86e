import type { V1VirtualMachine, V1VirtualMachineInstance } from '@kubevirt-ui-ext/kubevirt-api/kubevirt';
import type { KubeObject } from '../../../../lib/kube/object.js';
import type { ResourceType } from '../../../../lib/kube/resource-types.js';

/** The kinds the KubeVirt driver reads and writes, besides Secrets. */
export const kubevirtTypes = {
  virtualMachine: {
    group: 'kubevirt.io',
    version: 'v1',
    kind: 'VirtualMachine',
    plural: 'virtualmachines',
    namespaced: true,
  },
  virtualMachineInstance: {
    group: 'kubevirt.io',
    version: 'v1',
    kind: 'VirtualMachineInstance',
    plural: 'virtualmachineinstances',
    namespaced: true,
  },
  /** virt-launcher pods, for guest-exec through virsh. */
  pod: { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  /** Root disks imported or cloned by a DataVolume live in a PVC of the DataVolume's name. */
  persistentVolumeClaim: {
    group: '',
    version: 'v1',
    kind: 'PersistentVolumeClaim',
    plural: 'persistentvolumeclaims',
    namespaced: true,
  },
} as const satisfies Record<string, ResourceType>;

export type VirtualMachine = V1VirtualMachine & KubeObject;
export type VirtualMachineInstance = V1VirtualMachineInstance & KubeObject;

export interface Pod extends KubeObject {
  spec?: { nodeName?: string; containers?: { name: string }[] };
  /** podIP(s): written by the kubelet (pods/status), never by whoever may edit the pod. */
  status?: { phase?: string; podIP?: string; podIPs?: { ip: string }[] };
}

export interface PersistentVolumeClaim extends KubeObject {
  spec?: { resources?: { requests?: { storage?: string } } };
  status?: { phase?: string; capacity?: { storage?: string } };
}

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'blockhost';
export const VM_UID_LABEL = 'blockhost.io/vm-uid';
export const CREATE_INTENT_ANNOTATION = 'blockhost.io/create-intent';
/** virt-controller labels each virt-launcher pod with the UID of the VMI it runs. */
export const LAUNCHER_CREATED_BY_LABEL = 'kubevirt.io/created-by';
