import { z } from 'zod';
import { withCel, type CelRule } from '../cel.js';
import {
  backendType,
  dnsLabel,
  imageName,
  interfaceName,
  localObjectReference,
  mapList,
  objectName,
  url,
} from './common.js';

// HostConfig.spec.backend: which driver runs VMs and its settings. Each driver lists its base
// images by name; Plans and VMs pick one by that name.

const imageEntryName = imageName.describe('Name Plans and VMs use to pick this image.');

const kubevirtImage = withCel(
  z.object({
    name: imageEntryName,
    containerDisk: z
      .string()
      .min(1)
      .max(512)
      .optional()
      .describe(
        'Container image holding the disk (KubeVirt containerDisk). The root disk does not survive a restart: demos and tests only.',
      ),
    pvc: z
      .object({
        namespace: dnsLabel.describe('Namespace of the golden-image PVC.'),
        name: objectName.describe('Name of the golden-image PVC.'),
      })
      .optional()
      .describe('Golden-image PVC that a DataVolume clones for each VM.'),
    http: url('https?')
      .optional()
      .describe('URL of a qcow2 or raw image that a DataVolume imports for each VM.'),
  }),
  [
    {
      rule: '(has(self.containerDisk) ? 1 : 0) + (has(self.pvc) ? 1 : 0) + (has(self.http) ? 1 : 0) == 1',
      message: 'set exactly one image source: containerDisk, pvc or http',
      check: (i) => [i.containerDisk, i.pvc, i.http].filter((s) => s !== undefined).length === 1,
    },
  ],
);

const kubevirt = z.object({
  namespace: dnsLabel
    .optional()
    .describe('Namespace for the KubeVirt VirtualMachines; absent: the namespace of each VM object.'),
  storageClass: objectName
    .optional()
    .describe('StorageClass of the root-disk DataVolumes; absent: the cluster default.'),
  networkName: z
    .string()
    .max(253)
    .regex(/^([a-z0-9-]+\/)?[a-z0-9.-]+$/, 'must be "name" or "namespace/name"')
    .optional()
    .describe(
      'Multus NetworkAttachmentDefinition ("name" or "namespace/name") that puts VMs on the host network, with pool addresses; absent: the pod network, where KubeVirt assigns the address (masquerade NAT, reached at the pod IP) and explicit VM addresses are refused.',
    ),
  images: mapList(kubevirtImage, 'name', 16).min(1).describe('Base images, by name.'),
});

// Plain characters only: host paths end up inside libvirt domain XML.
const hostPath = z
  .string()
  .max(1024)
  .regex(/^\/[A-Za-z0-9._+/-]+$/, 'must be an absolute path of letters, digits and . _ + / -');

const libvirt = z.object({
  uri: z
    .string()
    .max(256)
    .regex(/^[a-z][a-z0-9+]*:\/\//, 'must be a libvirt connection URI such as qemu:///system')
    .default('qemu:///system')
    .describe('libvirt connection URI.'),
  networkMode: z
    .enum(['bridge', 'nat'])
    .default('bridge')
    .describe(
      'bridge: VM NICs join the host bridge (VMs reachable at their pool addresses); nat: they join the libvirt network natNetwork.',
    ),
  bridge: interfaceName.default('br0').describe('Host bridge the VM NICs are attached to (bridge mode).'),
  natNetwork: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.-]+$/, 'must be a libvirt network name')
    .default('default')
    .describe('libvirt network the VM NICs join (nat mode).'),
  storagePool: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.-]+$/, 'must be a libvirt storage pool name')
    .default('default')
    .describe('libvirt storage pool that holds the per-VM disk overlays and cloud-init seed ISOs.'),
  accelerator: z
    .enum(['kvm', 'tcg'])
    .default('kvm')
    .describe('kvm on real hosts; tcg (software emulation) where nested KVM does not work, as in CI.'),
  images: mapList(
    z.object({
      name: imageEntryName,
      path: hostPath.describe(
        'Absolute path of the qcow2 base image on the host; each VM gets a copy-on-write overlay.',
      ),
      kernel: hostPath
        .optional()
        .describe(
          'Kernel for direct kernel boot, for images without a boot loader; absent: boot from the disk.',
        ),
      initrd: hostPath.optional().describe('Initial ramdisk for direct kernel boot.'),
      cmdline: z
        .string()
        .max(1024)
        .regex(/^[ -~]*$/, 'must be printable ASCII')
        .default('root=LABEL=rootfs net.ifnames=0 console=ttyS0')
        .describe('Kernel command line for direct kernel boot.'),
    }),
    'name',
    16,
  )
    .min(1)
    .describe('Base images, by name.'),
});

const vmid = z.int().min(100).max(999_999_999);

const proxmox = withCel(
  z.object({
    apiUrl: url('https').describe('Proxmox VE API base URL, e.g. https://pve.example:8006/api2/json.'),
    node: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$/, 'must be a Proxmox node name')
      .describe('Proxmox node the VMs are created on.'),
    tokenSecretRef: localObjectReference.describe(
      'Secret in the controller namespace with the API token: keys tokenId (user@realm!name) and secret.',
    ),
    insecureSkipTLSVerify: z
      .boolean()
      .default(false)
      .describe("Accept the API's certificate without verification (Proxmox ships a self-signed one)."),
    storage: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, 'must be a Proxmox storage id')
      .default('local-lvm')
      .describe('Proxmox storage for VM disks.'),
    isoStorage: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, 'must be a Proxmox storage id')
      .default('local')
      .describe(
        'File-based Proxmox storage (content type iso) for the cloud-init seed ISOs; disk storage such as LVM cannot hold them.',
      ),
    bridge: interfaceName.default('vmbr0').describe('Proxmox bridge the VM NICs are attached to.'),
    vmidRange: withCel(
      z.object({
        start: vmid.default(100).describe('First VMID BlockHost may use.'),
        end: vmid.default(999).describe('Last VMID BlockHost may use.'),
      }),
      [
        {
          rule: 'self.start <= self.end',
          message: 'start must not be greater than end',
          fieldPath: '.start',
          check: (r) => r.start <= r.end,
        },
      ],
    )
      .prefault({})
      .describe('VMIDs BlockHost may allocate; others on the node are left alone.'),
    images: mapList(
      z.object({
        name: imageEntryName,
        templateVmid: vmid.describe('VMID of the template VM that is cloned.'),
      }),
      'name',
      16,
    )
      .min(1)
      .describe('Base images (template VMs), by name.'),
  }),
  [
    {
      rule: 'self.images.all(i, i.templateVmid < self.vmidRange.start || i.templateVmid > self.vmidRange.end)',
      message: 'template VMIDs must lie outside vmidRange, which is for VMs BlockHost creates',
      fieldPath: '.images',
      check: (p) =>
        p.images.every((i) => i.templateVmid < p.vmidRange.start || i.templateVmid > p.vmidRange.end),
    },
  ],
);

const types = backendType.options;

const backendObject = z.object({
  type: backendType.describe('Driver that runs the VMs: kubevirt, libvirt or proxmox.'),
  kubevirt: kubevirt.optional().describe('KubeVirt settings; required when type is kubevirt.'),
  libvirt: libvirt.optional().describe('libvirt settings; required when type is libvirt.'),
  proxmox: proxmox.optional().describe('Proxmox VE settings; required when type is proxmox.'),
});

export const backendSettings = withCel(backendObject, [
  ...types.map((t): CelRule<z.output<typeof backendObject>> => ({
    rule: `self.type != '${t}' || has(self.${t})`,
    message: `${t} settings are required when type is ${t}`,
    fieldPath: `.${t}`,
    reason: 'FieldValueRequired',
    check: (b) => b.type !== t || b[t] !== undefined,
  })),
  {
    rule: types.map((t) => `(has(self.${t}) ? 1 : 0)`).join(' + ') + ' <= 1',
    message: 'only the settings of the chosen type may be set',
    check: (b) => types.filter((t) => b[t] !== undefined).length <= 1,
  },
]);
