import type { V1DataVolumeTemplateSpec, V1Volume } from '@kubevirt-ui-ext/kubevirt-api/kubevirt';
import type { HostConfigSpec } from '../../../../lib/api/v1alpha1/index.js';
import type { KubeObject } from '../../../../lib/kube/object.js';
import { BackendError, type DesiredVm } from '../../backend.js';
import { gib, mib } from './quantity.js';
import {
  CREATE_INTENT_ANNOTATION,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  VM_UID_LABEL,
  type VirtualMachine,
} from './resource-types.js';

export type KubevirtSettings = NonNullable<HostConfigSpec['backend']['kubevirt']>;
export type KubevirtImage = KubevirtSettings['images'][number];

export const ROOT_DISK = 'rootdisk';
export const CLOUD_INIT_DISK = 'cloudinitdisk';
/** Name of the VM's one NIC and the network behind it. */
export const NETWORK = 'default';

export const cloudInitSecretName = (vmName: string): string => `${vmName}-cloudinit`;
export const rootDataVolumeName = (vmName: string): string => `${vmName}-rootdisk`;

export interface Secret extends KubeObject {
  type?: string;
  data?: Record<string, string>;
}

export function findImage(settings: KubevirtSettings, name: string): KubevirtImage {
  const image = settings.images.find((i) => i.name === name);
  if (!image)
    throw new BackendError(
      `image "${name}" is not in the KubeVirt image list (${settings.images.map((i) => i.name).join(', ')})`,
      'UnknownImage',
    );
  return image;
}

const labelsOf = (desired: DesiredVm): Record<string, string> => ({
  [MANAGED_BY_LABEL]: MANAGED_BY,
  [VM_UID_LABEL]: desired.uid,
});

const base64 = (text: string): string => Buffer.from(text).toString('base64');

/**
 * Secret data for KubeVirt's cloudInitNoCloud volume. KubeVirt writes meta-data itself (instance-id
 * is the VM's stable firmware UUID), so only user data and network config travel in the Secret.
 */
export function cloudInitSecretData(cloudInit: DesiredVm['cloudInit']): Record<string, string> {
  return {
    userdata: base64(cloudInit.userData),
    ...(cloudInit.networkConfig !== undefined && { networkdata: base64(cloudInit.networkConfig) }),
  };
}

export function buildCloudInitSecret(namespace: string, name: string, desired: DesiredVm): Secret {
  return {
    metadata: { name: cloudInitSecretName(name), namespace, labels: labelsOf(desired) },
    type: 'Opaque',
    data: cloudInitSecretData(desired.cloudInit),
  };
}

/** The root disk: the image itself (containerDisk), or a DataVolume that clones or imports it. */
function rootDisk(
  vmName: string,
  desired: DesiredVm,
  settings: KubevirtSettings,
): { volume: V1Volume; dataVolumeTemplate?: V1DataVolumeTemplateSpec } {
  const image = findImage(settings, desired.image);
  if (image.containerDisk !== undefined)
    return { volume: { name: ROOT_DISK, containerDisk: { image: image.containerDisk } } };
  const source = image.pvc
    ? { pvc: { namespace: image.pvc.namespace, name: image.pvc.name } }
    : { http: { url: image.http ?? '' } };
  const dataVolumeName = rootDataVolumeName(vmName);
  return {
    volume: { name: ROOT_DISK, dataVolume: { name: dataVolumeName } },
    dataVolumeTemplate: {
      metadata: { name: dataVolumeName, labels: labelsOf(desired) },
      spec: {
        source,
        // `storage` (not `pvc`) lets CDI fill access and volume modes in from the StorageProfile.
        storage: {
          resources: { requests: { storage: gib(desired.diskGiB) } },
          ...(settings.storageClass !== undefined && { storageClassName: settings.storageClass }),
        },
      },
    },
  };
}

/**
 * Pod network behind KubeVirt's NAT (masquerade), or the host network through a Multus bridge; the
 * NIC has the MAC the cloud-init network config matches.
 */
function network(settings: KubevirtSettings, macAddress: string) {
  return settings.networkName === undefined
    ? { iface: { name: NETWORK, masquerade: {}, macAddress }, network: { name: NETWORK, pod: {} } }
    : {
        iface: { name: NETWORK, bridge: {}, macAddress },
        network: { name: NETWORK, multus: { networkName: settings.networkName } },
      };
}

export const runStrategyOf = (running: boolean): 'Always' | 'Halted' => (running ? 'Always' : 'Halted');

export function buildVirtualMachine(
  namespace: string,
  name: string,
  desired: DesiredVm,
  settings: KubevirtSettings,
): VirtualMachine {
  const labels = labelsOf(desired);
  const { volume, dataVolumeTemplate } = rootDisk(name, desired, settings);
  const { iface, network: net } = network(settings, desired.macAddress);
  const secret = cloudInitSecretName(name);
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, namespace, labels, annotations: { [CREATE_INTENT_ANNOTATION]: desired.intentId } },
    spec: {
      runStrategy: runStrategyOf(desired.running),
      ...(dataVolumeTemplate && { dataVolumeTemplates: [dataVolumeTemplate] }),
      template: {
        // Carried to the VMI and its virt-launcher pod, so they can be traced back to the VM object.
        metadata: { labels },
        spec: {
          domain: {
            cpu: { cores: desired.cpu },
            memory: { guest: mib(desired.memoryMiB) },
            devices: {
              disks: [
                { name: ROOT_DISK, disk: { bus: 'virtio' } },
                { name: CLOUD_INIT_DISK, disk: { bus: 'virtio' } },
              ],
              interfaces: [iface],
            },
          },
          networks: [net],
          volumes: [
            volume,
            {
              name: CLOUD_INIT_DISK,
              cloudInitNoCloud: { secretRef: { name: secret }, networkDataSecretRef: { name: secret } },
            },
          ],
        },
      },
    },
  };
}
