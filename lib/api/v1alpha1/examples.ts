// Example objects for tests and docs: valid ones of each kind, and invalid variants that the CRD
// (schema + CEL) and the zod schemas must reject, each with the field the error names.
import type { z } from 'zod';
import type { hostConfigSchema } from './hostconfig.js';
import { API_VERSION } from './kind.js';
import type { planSchema } from './plan.js';
import type { subscriptionSchema } from './subscription.js';
import type { vmSchema } from './vm.js';

const ADMIN = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const SUBSCRIBER = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const TX = `0x${'ab'.repeat(32)}`;
const BLOCK = `0x${'cd'.repeat(32)}`;

type BackendInput = z.input<typeof hostConfigSchema>['spec']['backend'];

const libvirtBackend = {
  type: 'libvirt',
  libvirt: {
    uri: 'qemu:///system',
    bridge: 'br0',
    accelerator: 'tcg',
    images: [{ name: 'debian-12', path: '/var/lib/blockhost/images/debian-12.qcow2' }],
  },
} satisfies BackendInput;

/** Backend settings of each type, to swap into exampleHostConfig.spec.backend. */
export const exampleBackends = {
  libvirt: libvirtBackend,
  kubevirt: {
    type: 'kubevirt',
    kubevirt: {
      namespace: 'blockhost-vms',
      storageClass: 'local-path',
      images: [
        { name: 'debian-12', pvc: { namespace: 'blockhost-images', name: 'debian-12' } },
        { name: 'demo', containerDisk: 'quay.io/containerdisks/debian:12' },
      ],
    },
  },
  proxmox: {
    type: 'proxmox',
    proxmox: {
      apiUrl: 'https://pve.example.net:8006/api2/json',
      node: 'pve',
      tokenSecretRef: { name: 'proxmox-token' },
      vmidRange: { start: 100, end: 999 },
      images: [{ name: 'debian-12', templateVmid: 9001 }],
    },
  },
} satisfies Record<string, BackendInput>;

export const exampleHostConfig = {
  apiVersion: API_VERSION,
  kind: 'HostConfig',
  metadata: { name: 'host' },
  spec: {
    network: { mode: 'dhcp' },
    chain: {
      chainId: 11155111,
      rpcEndpoints: ['https://ethereum-sepolia-rpc.publicnode.com'],
      deploy: true,
    },
    backend: libvirtBackend,
    ipv4Pool: {
      network: '192.168.122.0/24',
      start: '192.168.122.200',
      end: '192.168.122.250',
      gateway: '192.168.122.1',
    },
    ipv6: { mode: 'manual', prefix: '2001:db8:42::/64' },
    admin: {
      wallet: ADMIN,
      signature: `0x${'11'.repeat(32)}${'22'.repeat(32)}1b`,
      commands: { enabled: true, commandName: 'open-sesame' },
    },
    revenueShare: {
      enabled: true,
      totalPercent: 1,
      recipients: [
        { role: 'dev', percent: 0.5 },
        { role: 'broker', percent: 0.5 },
      ],
    },
  },
} satisfies z.input<typeof hostConfigSchema>;

export const examplePlan = {
  apiVersion: API_VERSION,
  kind: 'Plan',
  metadata: { name: 'basic' },
  spec: {
    displayName: 'Basic VM',
    priceUsdCentsPerDay: 50,
    size: { cpu: 1, memoryMiB: 2048, diskGiB: 20, image: 'debian-12' },
  },
  status: {
    onChainPlanId: '1',
    chainId: 11155111,
    syncedName: 'Basic VM',
    syncedPriceUsdCentsPerDay: 50,
    syncedActive: true,
    observedGeneration: 1,
    conditions: [
      {
        type: 'Synced',
        status: 'True',
        observedGeneration: 1,
        lastTransitionTime: '2026-01-01T00:00:00Z',
        reason: 'PlanCreated',
        message: '',
      },
    ],
  },
} satisfies z.input<typeof planSchema>;

export const exampleSubscription = {
  apiVersion: API_VERSION,
  kind: 'Subscription',
  metadata: { name: 'blockhost-007', namespace: 'blockhost' },
  spec: {
    chainId: 11155111,
    contract: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
    subscriptionId: '7',
    planId: '1',
    subscriber: SUBSCRIBER,
    expiresAt: '2026-02-01T00:00:00Z',
    userEncrypted: `0x04${'ab'.repeat(224)}`,
    source: { txHash: TX, logIndex: 3, blockNumber: 123456, blockHash: BLOCK },
  },
  status: {
    phase: 'Active',
    vmRef: { name: 'blockhost-007' },
    nft: { tokenId: '1', txHash: TX },
    observedGeneration: 1,
  },
} satisfies z.input<typeof subscriptionSchema>;

export const exampleVM = {
  apiVersion: API_VERSION,
  kind: 'VM',
  metadata: { name: 'blockhost-007', namespace: 'blockhost' },
  spec: {
    backend: 'libvirt',
    size: { cpu: 1, memoryMiB: 2048, diskGiB: 20 },
    image: 'debian-12',
    ownerWallet: SUBSCRIBER,
    nftTokenId: '1',
    network: { ipv4: '192.168.122.200', ipv6: '2001:db8:42::200' },
    subscriptionRef: { name: 'blockhost-007' },
  },
  status: {
    phase: 'Running',
    addresses: { ipv4: '192.168.122.200', ipv6: '2001:db8:42::200' },
    backendId: '3f1c2a9e-8d5b-4c1e-9a57-0d6b2f4e8c11',
    guestAgentConnected: true,
    observedGeneration: 1,
  },
} satisfies z.input<typeof vmSchema>;

export interface InvalidExample {
  /** What is wrong, for test names. */
  name: string;
  object: unknown;
  /**
   * Set for transition rules: the stored object that `object` would replace. Variants of status
   * fields need a status update to reach the apiserver (the main resource ignores status).
   */
  oldObject?: unknown;
  /** Field the error is reported on, dotted from the object root (both zod and the apiserver). */
  path: string;
  /**
   * Text the error message contains; empty for plain schema errors (type, pattern, range), which
   * zod and the apiserver word differently.
   */
  message: string;
}

/** A deep copy of `base` with the dotted `path` set to `value` (undefined deletes it). */
function variant(base: object, path: string, value: unknown): unknown {
  const copy = structuredClone(base) as Record<string, unknown>;
  const keys = path.split('.');
  const last = keys.pop()!;
  const parent = keys.reduce<Record<string, unknown>>((node, k) => node[k] as Record<string, unknown>, copy);
  if (value === undefined) delete parent[last];
  else parent[last] = value;
  return copy;
}

function invalid(
  name: string,
  base: object,
  set: string,
  value: unknown,
  path: string,
  message: string,
): InvalidExample {
  return { name, object: variant(base, set, value), path, message };
}

/** The update from `base` that changes `set` to `value`, which a transition rule forbids. */
function invalidUpdate(
  name: string,
  base: object,
  set: string,
  value: unknown,
  message: string,
): InvalidExample {
  return { name, object: variant(base, set, value), oldObject: base, path: set, message };
}

const hc = exampleHostConfig;
const pool = hc.spec.ipv4Pool;

export const invalidExamples: Record<'HostConfig' | 'Plan' | 'Subscription' | 'VM', InvalidExample[]> = {
  HostConfig: [
    invalid('second HostConfig', hc, 'metadata.name', 'other', '', 'singleton'),
    invalid(
      'static gateway outside subnet',
      hc,
      'spec.network',
      { mode: 'static', address: '10.0.0.5/24', gateway: '10.0.1.1' },
      'spec.network.gateway',
      'gateway must be inside the subnet',
    ),
    invalid('bad admin address', hc, 'spec.admin.wallet', '0x1234', 'spec.admin.wallet', ''),
    invalid('unknown backend', hc, 'spec.backend.type', 'vmware', 'spec.backend.type', ''),
    invalid(
      'missing backend settings',
      hc,
      'spec.backend',
      { type: 'proxmox', libvirt: libvirtBackend.libvirt },
      'spec.backend.proxmox',
      'proxmox settings are required',
    ),
    invalid(
      'settings of two backends',
      hc,
      'spec.backend.kubevirt',
      exampleBackends.kubevirt.kubevirt,
      'spec.backend',
      'only the settings of the chosen type',
    ),
    invalid(
      'duplicate image name',
      hc,
      'spec.backend.libvirt.images',
      [libvirtBackend.libvirt.images[0], libvirtBackend.libvirt.images[0]],
      'spec.backend.libvirt.images.1',
      '',
    ),
    invalid(
      'image with two sources',
      hc,
      'spec.backend',
      {
        type: 'kubevirt',
        kubevirt: {
          images: [{ name: 'debian-12', containerDisk: 'debian:12', http: 'https://img.example/d.qcow2' }],
        },
      },
      'spec.backend.kubevirt.images.0',
      'exactly one image source',
    ),
    invalid(
      'template inside the VMID range',
      hc,
      'spec.backend',
      {
        type: 'proxmox',
        proxmox: { ...exampleBackends.proxmox.proxmox, images: [{ name: 'debian-12', templateVmid: 150 }] },
      },
      'spec.backend.proxmox.images',
      'outside vmidRange',
    ),
    invalid(
      'reversed VMID range',
      hc,
      'spec.backend',
      {
        type: 'proxmox',
        proxmox: { ...exampleBackends.proxmox.proxmox, vmidRange: { start: 900, end: 200 } },
      },
      'spec.backend.proxmox.vmidRange.start',
      'start must not be greater than end',
    ),
    invalid(
      'deploy on a chain without known USDC',
      hc,
      'spec.chain.chainId',
      31337,
      'spec.chain.stablecoin',
      'stablecoin is required',
    ),
    invalid('too many confirmations', hc, 'spec.chain.confirmations', 5000, 'spec.chain.confirmations', ''),
    invalid('a fee cap of zero', hc, 'spec.chain.maxFeePerGasGwei', 0, 'spec.chain.maxFeePerGasGwei', ''),
    invalid(
      'negative low-wallet mints',
      hc,
      'spec.chain.serverWalletLowMints',
      -1,
      'spec.chain.serverWalletLowMints',
      '',
    ),
    invalid('no RPC endpoint', hc, 'spec.chain.rpcEndpoints', [], 'spec.chain.rpcEndpoints', ''),
    invalid(
      'websocket RPC',
      hc,
      'spec.chain.rpcEndpoints',
      ['wss://rpc.example'],
      'spec.chain.rpcEndpoints.0',
      '',
    ),
    invalid(
      'plain http RPC outside loopback',
      hc,
      'spec.chain.rpcEndpoints',
      ['http://127.0.0.1:8545', 'http://rpc.example:8545'],
      'spec.chain.rpcEndpoints',
      'plain http:// RPC endpoints are accepted only on loopback',
    ),
    invalid(
      'no contracts and no deploy',
      hc,
      'spec.chain.deploy',
      false,
      'spec.chain.contracts',
      'required unless deploy',
    ),
    invalid(
      'pool start after end',
      hc,
      'spec.ipv4Pool',
      { ...pool, start: '192.168.122.250', end: '192.168.122.200' },
      'spec.ipv4Pool.start',
      'start must not be after end',
    ),
    invalid(
      'pool address outside network',
      hc,
      'spec.ipv4Pool.end',
      '192.168.123.10',
      'spec.ipv4Pool.end',
      'end must be inside network',
    ),
    invalid(
      'pool network with host bits',
      hc,
      'spec.ipv4Pool.network',
      '192.168.122.1/24',
      'spec.ipv4Pool.network',
      'zero host bits',
    ),
    invalid(
      'gateway inside pool range',
      hc,
      'spec.ipv4Pool.gateway',
      '192.168.122.210',
      'spec.ipv4Pool.gateway',
      'must not be inside the range',
    ),
    invalid(
      'manual IPv6 without prefix',
      hc,
      'spec.ipv6',
      { mode: 'manual' },
      'spec.ipv6.prefix',
      'prefix is required',
    ),
    invalid(
      'broker IPv6 without registry',
      hc,
      'spec.ipv6',
      { mode: 'broker' },
      'spec.ipv6.brokerRegistry',
      'brokerRegistry is required',
    ),
    invalid(
      'IPv6 prefix with host bits',
      hc,
      'spec.ipv6.prefix',
      '2001:db8:42::1/64',
      'spec.ipv6.prefix',
      'zero host bits',
    ),
    invalid(
      'knock without command name',
      hc,
      'spec.admin.commands',
      { enabled: true },
      'spec.admin.commands.commandName',
      'commandName is required',
    ),
    invalid(
      'knock duration too long',
      hc,
      'spec.admin.commands.durationSeconds',
      7200,
      'spec.admin.commands.durationSeconds',
      '',
    ),
    invalid(
      'port out of range',
      hc,
      'spec.admin.commands.ports',
      [22, 70000],
      'spec.admin.commands.ports.1',
      '',
    ),
    invalid('GC grace beyond a year', hc, 'spec.gcGraceDays', 400, 'spec.gcGraceDays', ''),
    invalid(
      'custom revenue recipient without address',
      hc,
      'spec.revenueShare.recipients',
      [{ role: 'ops', percent: 1 }],
      'spec.revenueShare.recipients.0.address',
      'address is required',
    ),
    invalid(
      'revenue percents do not add up',
      hc,
      'spec.revenueShare.totalPercent',
      2,
      'spec.revenueShare.recipients',
      'add up to totalPercent',
    ),
  ],
  Plan: [
    invalid('negative price', examplePlan, 'spec.priceUsdCentsPerDay', -5, 'spec.priceUsdCentsPerDay', ''),
    invalid('zero price', examplePlan, 'spec.priceUsdCentsPerDay', 0, 'spec.priceUsdCentsPerDay', ''),
    invalid('fractional price', examplePlan, 'spec.priceUsdCentsPerDay', 0.5, 'spec.priceUsdCentsPerDay', ''),
    invalid('no CPU', examplePlan, 'spec.size.cpu', 0, 'spec.size.cpu', ''),
    invalid('too many CPUs', examplePlan, 'spec.size.cpu', 65, 'spec.size.cpu', ''),
    invalid('empty name', examplePlan, 'spec.displayName', '', 'spec.displayName', ''),
    invalid('image name with capitals', examplePlan, 'spec.size.image', 'Debian', 'spec.size.image', ''),
    invalid(
      'on-chain id with leading zero',
      examplePlan,
      'status.onChainPlanId',
      '01',
      'status.onChainPlanId',
      '',
    ),
  ],
  Subscription: [
    invalid('name not from id', exampleSubscription, 'metadata.name', 'blockhost-7', '', 'blockhost-NNN'),
    invalid('bad subscriber', exampleSubscription, 'spec.subscriber', 'alice', 'spec.subscriber', ''),
    invalid('numeric id', exampleSubscription, 'spec.subscriptionId', 7, 'spec.subscriptionId', ''),
    invalid(
      'odd-length payload',
      exampleSubscription,
      'spec.userEncrypted',
      '0xabc',
      'spec.userEncrypted',
      '',
    ),
    invalid('expiry not a time', exampleSubscription, 'spec.expiresAt', 'tomorrow', 'spec.expiresAt', ''),
    invalid('unknown phase', exampleSubscription, 'status.phase', 'Paused', 'status.phase', ''),
    invalid('short tx hash', exampleSubscription, 'spec.source.txHash', '0xabcd', 'spec.source.txHash', ''),
    invalidUpdate('changed contract', exampleSubscription, 'spec.contract', ADMIN, 'contract is immutable'),
    invalidUpdate(
      'changed id',
      exampleSubscription,
      'spec.subscriptionId',
      '8',
      'subscriptionId is immutable',
    ),
    invalid(
      'credential without token',
      exampleSubscription,
      'spec.credential',
      { holder: SUBSCRIBER },
      'spec.credential.tokenId',
      '',
    ),
  ],
  VM: [
    invalid('unknown backend', exampleVM, 'spec.backend', 'vmware', 'spec.backend', ''),
    invalid('bad owner', exampleVM, 'spec.ownerWallet', '0xZZ', 'spec.ownerWallet', ''),
    invalid('too much memory', exampleVM, 'spec.size.memoryMiB', 2_000_000, 'spec.size.memoryMiB', ''),
    invalid('unknown run strategy', exampleVM, 'spec.runStrategy', 'Manual', 'spec.runStrategy', ''),
    invalid(
      'shutdown grace over an hour',
      exampleVM,
      'spec.shutdownGracePeriodSeconds',
      3601,
      'spec.shutdownGracePeriodSeconds',
      '',
    ),
    invalid(
      'negative shutdown grace',
      exampleVM,
      'spec.shutdownGracePeriodSeconds',
      -1,
      'spec.shutdownGracePeriodSeconds',
      '',
    ),
    invalid('bad IPv4', exampleVM, 'spec.network.ipv4', '192.168.122.300', 'spec.network.ipv4', ''),
    invalid(
      'root login user',
      exampleVM,
      'spec.cloudInit',
      { username: 'Root!' },
      'spec.cloudInit.username',
      '',
    ),
    invalid('unknown phase', exampleVM, 'status.phase', 'Sleeping', 'status.phase', ''),
    invalidUpdate('changed backend', exampleVM, 'spec.backend', 'proxmox', 'backend is immutable'),
    invalidUpdate('changed image', exampleVM, 'spec.image', 'ubuntu-24', 'image is immutable'),
    invalidUpdate('shrunk disk', exampleVM, 'spec.size.diskGiB', 10, 'cannot shrink'),
    invalidUpdate('moved IPv4', exampleVM, 'spec.network.ipv4', '192.168.122.201', 'ipv4 is immutable'),
  ],
};
