import { z } from 'zod';
import { immutable, withCel } from '../cel.js';
import {
  backendType,
  conditions,
  ethAddress,
  imageName,
  ipv4,
  ipv6,
  localObjectReference,
  observedGeneration,
  uint256,
  vmSize,
} from './common.js';
import { defineKind } from './kind.js';

export const VM_PHASES = [
  'Pending',
  'Creating',
  'Running',
  'Stopped',
  'Deleting',
  'Failed',
  'Unknown',
] as const;

export const VM_CONDITIONS = ['Created', 'Running', 'GuestAgentConnected', 'OwnerSynced', 'Ready'] as const;

export const vmSpecSchema = withCel(
  z.object({
    backend: immutable(backendType, 'backend').describe(
      'Driver that runs this VM: kubevirt, libvirt or proxmox.',
    ),
    size: vmSize.prefault({}).describe('Hardware of the VM.'),
    image: immutable(imageName, 'image').describe("Base image name from the backend's image list."),
    ownerWallet: ethAddress.describe('Wallet allowed to log in (GECOS wallet=); follows NFT transfers.'),
    nftTokenId: uint256.optional().describe('Access credential NFT of the VM (GECOS nft=), once minted.'),
    runStrategy: z
      .enum(['Always', 'Halted'])
      .default('Always')
      .describe(
        'Always: keep the VM running (restart it if stopped behind our back); Halted: keep it stopped.',
      ),
    hold: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe(
        "An operator's hold, saying why: while it is set, the subscription controller keeps the VM " +
          'Halted and never deletes it (not after the grace period, not on cancellation). Remove it to hand the VM back.',
      ),
    shutdownGracePeriodSeconds: z
      .int()
      .min(0)
      .max(3600)
      .optional()
      .describe(
        'Seconds a Halted VM gets to shut down after the ACPI request before it is powered off; ' +
          '0 powers it off at once (a kill, unsaved guest data is lost). Absent: the controller default (120).',
      ),
    network: z
      .object({
        ipv4: immutable(ipv4, 'ipv4').optional().describe('IPv4 address from the HostConfig pool.'),
        ipv6: immutable(ipv6, 'ipv6').optional().describe('IPv6 /128 from the HostConfig prefix.'),
      })
      .optional()
      .describe('Addresses claimed for the VM; gateways come from the HostConfig.'),
    cloudInit: z
      .object({
        username: z
          .string()
          .max(32)
          .regex(/^[a-z_][a-z0-9_-]*$/, 'must be a Linux user name: lowercase letters, digits, "_" and "-"')
          .default('admin')
          .describe('Login user created in the guest.'),
        gecos: z
          .string()
          .max(256)
          .regex(/^[^:\n]*$/, 'must not contain ":" or line breaks (passwd field)')
          .optional()
          .describe(
            'GECOS of the user; absent: wallet=<ownerWallet>,nft=<nftTokenId> for the web3 PAM login.',
          ),
        sshKeys: z
          .array(z.string().min(1).max(4096))
          .max(16)
          .optional()
          .describe('Extra authorized SSH keys; BlockHost logins use the wallet PAM flow instead.'),
      })
      .prefault({})
      .describe('Inputs of the cloud-init user data.'),
    subscriptionRef: localObjectReference
      .optional()
      .describe('Subscription this VM serves; absent for VMs an admin made.'),
  }),
  [
    {
      rule: 'self.size.diskGiB >= oldSelf.size.diskGiB',
      message: 'size.diskGiB cannot shrink',
      fieldPath: '.size.diskGiB',
    },
  ],
).describe('Desired VM.');

export const vmStatusSchema = z
  .object({
    phase: z.enum(VM_PHASES).optional().describe('Lifecycle phase.'),
    lastTransitionReason: z
      .string()
      .max(128)
      .optional()
      .describe('CamelCase cause of the last phase change.'),
    lastTransitionMessage: z.string().max(4096).optional().describe('Details of the last phase change.'),
    addresses: z
      .object({
        ipv4: ipv4.optional().describe('IPv4 address the VM is reachable at.'),
        ipv6: ipv6.optional().describe('IPv6 address the VM is reachable at.'),
      })
      .optional()
      .describe('Addresses as observed on the backend.'),
    backendId: z
      .string()
      .max(256)
      .optional()
      .describe(
        'Id of the VM on its backend: KubeVirt VirtualMachine name, libvirt domain UUID or Proxmox VMID.',
      ),
    guestAgentConnected: z.boolean().optional().describe('Whether the QEMU guest agent answers.'),
    appliedGecos: z
      .string()
      .max(256)
      .optional()
      .describe(
        'GECOS last written to the guest (by cloud-init at first boot, then through the guest agent).',
      ),
    conditions: conditions(VM_CONDITIONS).optional(),
    observedGeneration: observedGeneration.optional(),
  })
  .describe('Observed state of the VM on its backend.');

export const vmKind = defineKind(
  {
    kind: 'VM',
    plural: 'vms',
    singular: 'vm',
    // Not "vm": KubeVirt's VirtualMachine already has that short name.
    shortNames: ['bhvm'],
    scope: 'Namespaced',
    description:
      'A backend-neutral virtual machine run by the VM controller on KubeVirt, libvirt or Proxmox.',
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Lifecycle phase.' },
      { name: 'Backend', type: 'string', jsonPath: '.spec.backend', description: 'VM backend.' },
      { name: 'IP', type: 'string', jsonPath: '.status.addresses.ipv4', description: 'IPv4 address.' },
      { name: 'Owner', type: 'string', jsonPath: '.spec.ownerWallet', description: 'Owner wallet.' },
      { name: 'Hold', type: 'string', jsonPath: '.spec.hold', description: "The operator's hold, if any." },
    ],
  },
  vmSpecSchema,
  vmStatusSchema,
);

export const vmSchema = vmKind.schema;
export type VMSpec = z.infer<typeof vmSpecSchema>;
export type VMStatus = z.infer<typeof vmStatusSchema>;
export type VM = z.infer<typeof vmSchema>;
