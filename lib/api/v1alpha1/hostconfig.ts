import { z } from 'zod';
import { withCel } from '../cel.js';
import { cidrContains, compareIps, isNetworkCidr, parseCidr } from '../ip.js';
import { backendSettings } from './backend.js';
import {
  chainId,
  conditions,
  ethAddress,
  interfaceName,
  ipAddress,
  ipv4,
  ipv4Cidr,
  ipv6Cidr,
  localObjectReference,
  mapList,
  observedGeneration,
  setList,
  signature,
  uint256,
  url,
} from './common.js';
import { defineKind } from './kind.js';

/** The one HostConfig a cluster has. */
export const HOST_CONFIG_NAME = 'host';

/** One condition per setup step, then Ready when all are true. */
export const HOST_CONFIG_CONDITIONS = [
  'KeysReady',
  'ContractsReady',
  'AdminCredentialMinted',
  'PlansReady',
  'BackendReady',
  'SignupPublished',
  'Ready',
] as const;

/** Fee cap of the server wallet's transactions when spec.chain.maxFeePerGasGwei is absent. */
export const DEFAULT_MAX_FEE_PER_GAS_GWEI = 500;
/** ServerWalletLow below this many mints' worth of gas when spec.chain.serverWalletLowMints is absent. */
export const DEFAULT_SERVER_WALLET_LOW_MINTS = 20;

/** Primary stablecoin used when chain.stablecoin is absent (INTEROP §5). */
export const USDC_BY_CHAIN_ID: Readonly<Record<number, string>> = {
  1: '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48',
  11155111: '0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238',
};
const knownUsdcChains = Object.keys(USDC_BY_CHAIN_ID).map(Number);

const network = withCel(
  z.object({
    mode: z
      .enum(['dhcp', 'static'])
      .describe('How the host gets its address: dhcp, or static from the fields below.'),
    interface: interfaceName
      .optional()
      .describe('Host interface to configure; absent: the one carrying the default route.'),
    address: ipv4Cidr.optional().describe('Static host address with prefix length, e.g. 192.168.1.10/24.'),
    gateway: ipv4.optional().describe('Static default gateway.'),
    dns: z.array(ipAddress).max(3).optional().describe('Static DNS servers (IPv4 or IPv6).'),
  }),
  [
    {
      rule: "self.mode == 'dhcp' || (has(self.address) && has(self.gateway))",
      message: 'address and gateway are required when mode is static',
      check: (n) => n.mode === 'dhcp' || (n.address !== undefined && n.gateway !== undefined),
    },
    {
      rule: '!has(self.address) || !has(self.gateway) || cidr(self.address).containsIP(self.gateway)',
      message: 'gateway must be inside the subnet of address',
      fieldPath: '.gateway',
      check: (n) => n.address === undefined || n.gateway === undefined || cidrContains(n.address, n.gateway),
    },
  ],
);

const PLAIN_HTTP_MESSAGE =
  'plain http:// RPC endpoints are accepted only on loopback (127.0.0.0/8, ::1, localhost): use https://, or set allowPlainHttp for a node on a network you trust';

/**
 * An http:// URL whose host is loopback (127.0.0.0/8, [::1], localhost). One pattern for CEL (RE2)
 * and zod, so the apiserver and the webhook accept exactly the same URLs.
 */
const LOOPBACK_HTTP = String.raw`^http://(localhost|127(\.[0-9]{1,3}){3}|\[::1\])(:[0-9]{1,5})?([/?#].*)?$`;
const isPlainHttpOutsideLoopback = (endpoint: string) =>
  endpoint.startsWith('http://') && !new RegExp(LOOPBACK_HTTP).test(endpoint);

const chain = withCel(
  z.object({
    chainId: chainId.describe('EIP-155 chain id (1 mainnet, 11155111 Sepolia, 31337 anvil).'),
    rpcEndpoints: z
      .array(url('https?'))
      .min(1)
      .max(8)
      .describe('JSON-RPC endpoints, tried in order with failover.'),
    confirmations: z
      .int()
      .min(0)
      .max(1000)
      .default(12)
      .describe(
        'Blocks an event must be buried under before it is acted on; also the depth at which expiry (suspend, destroy) and the admin credential holder (login, payouts) are read.',
      ),
    allowPlainHttp: z
      .boolean()
      .default(false)
      .describe(
        'Accept http:// RPC endpoints on hosts other than loopback. Anyone on the path can read and rewrite plain HTTP answers (expiry, the admin holder), so only for a node on a network you trust.',
      ),
    maxBlockTimeAheadSeconds: z
      .int()
      .min(1)
      .max(366 * 86_400)
      .default(300)
      .describe(
        "How far a block's timestamp may be ahead of the host clock and still count as chain time; a later one never moves expiry forward.",
      ),
    pollIntervalSeconds: z
      .int()
      .min(1)
      .max(3600)
      .default(5)
      .describe('Seconds between polls for new blocks.'),
    maxFeePerGasGwei: z
      .number()
      .positive()
      .max(1_000_000)
      .default(DEFAULT_MAX_FEE_PER_GAS_GWEI)
      .describe(
        'The most the server wallet pays per gas (gwei), base fee and tip together. A stuck transaction is re-sent with higher fees up to this and then waits for fees to fall (a Warning Event FeeCapReached on the HostConfig says so).',
      ),
    serverWalletLowMints: z
      .int()
      .min(0)
      .max(1_000_000)
      .default(DEFAULT_SERVER_WALLET_LOW_MINTS)
      .describe(
        'ServerWalletLow turns True (with a Warning Event) when the server wallet holds less than this many NFT mints cost at current fees; 0 turns the check off.',
      ),
    contracts: z
      .object({
        subscriptions: ethAddress.optional().describe('Existing BlockhostSubscriptions contract.'),
        nft: ethAddress.optional().describe('Existing AccessCredentialNFT contract.'),
        startBlock: z
          .int()
          .min(0)
          .optional()
          .describe('Block the existing contracts were deployed in; the chain watcher scans from there.'),
      })
      .optional()
      .describe('Contracts already deployed; any that are absent are deployed when deploy is true.'),
    deploy: z
      .boolean()
      .default(false)
      .describe('Deploy the contracts that contracts does not name, owned by the server wallet.'),
    stablecoin: ethAddress
      .optional()
      .describe(
        `Primary stablecoin (ERC-20) set on deployed contracts; absent: USDC on chains ${knownUsdcChains.join(', ')}.`,
      ),
    serverWallet: z
      .object({
        secretRef: localObjectReference
          .prefault({ name: 'blockhost-server-wallet' })
          .describe(
            'Secret in the controller namespace holding the server wallet private key (key privateKey).',
          ),
        generate: z
          .boolean()
          .default(true)
          .describe('Generate a new key into the Secret when it does not exist yet.'),
      })
      .prefault({})
      .describe(
        'The server (deployer) wallet: owns the contracts and sends every transaction. Purchases are decrypted with a separate key the controller generates (Secret blockhost-decrypt-key).',
      ),
  }),
  [
    {
      rule: 'self.deploy || (has(self.contracts) && has(self.contracts.subscriptions) && has(self.contracts.nft))',
      message: 'contracts.subscriptions and contracts.nft are required unless deploy is true',
      fieldPath: '.contracts',
      check: (c) => c.deploy || (c.contracts?.subscriptions !== undefined && c.contracts.nft !== undefined),
    },
    {
      rule: `self.allowPlainHttp || self.rpcEndpoints.all(u, !u.startsWith('http://') || u.matches(r'${LOOPBACK_HTTP}'))`,
      message: PLAIN_HTTP_MESSAGE,
      fieldPath: '.rpcEndpoints',
      check: (c) => c.allowPlainHttp || !c.rpcEndpoints.some(isPlainHttpOutsideLoopback),
    },
    {
      rule: `!self.deploy || has(self.stablecoin) || self.chainId in [${knownUsdcChains.join(', ')}]`,
      message: `stablecoin is required to deploy on chains other than ${knownUsdcChains.join(', ')}`,
      fieldPath: '.stablecoin',
      check: (c) => !c.deploy || c.stablecoin !== undefined || knownUsdcChains.includes(c.chainId),
    },
  ],
);

/** CEL's ip() values have no order, so compare dotted quads as integers. */
function celIpv4Int(expr: string): string {
  return [0, 1, 2, 3].map((i) => `int(${expr}.split('.')[${i}]) * ${256 ** (3 - i)}`).join(' + ');
}

const inNetwork = (field: 'start' | 'end' | 'gateway') => ({
  rule: `cidr(self.network).containsIP(self.${field})`,
  message: `${field} must be inside network`,
  fieldPath: `.${field}`,
  check: (p: Record<'network' | typeof field, string>) => cidrContains(p.network, p[field]),
});

const ipv4Pool = withCel(
  z.object({
    network: ipv4Cidr.describe('Subnet the VMs live in, e.g. 192.168.122.0/24 (any prefix length).'),
    start: ipv4.describe('First address handed to VMs.'),
    end: ipv4.describe('Last address handed to VMs.'),
    gateway: ipv4.describe("VMs' default gateway."),
  }),
  [
    {
      rule: 'cidr(self.network) == cidr(self.network).masked()',
      message: 'network must be a network address with zero host bits, e.g. 192.168.122.0/24',
      fieldPath: '.network',
      check: (p) => isNetworkCidr(p.network),
    },
    inNetwork('start'),
    inNetwork('end'),
    inNetwork('gateway'),
    {
      rule: `${celIpv4Int('self.start')} <= ${celIpv4Int('self.end')}`,
      message: 'start must not be after end',
      fieldPath: '.start',
      check: (p) => compareIps(p.start, p.end)! <= 0,
    },
    {
      rule: `${celIpv4Int('self.gateway')} < ${celIpv4Int('self.start')} || ${celIpv4Int('self.gateway')} > ${celIpv4Int('self.end')}`,
      message: 'gateway must not be inside the range start..end handed to VMs',
      fieldPath: '.gateway',
      check: (p) => compareIps(p.gateway, p.start)! < 0 || compareIps(p.gateway, p.end)! > 0,
    },
  ],
);

const ipv6 = withCel(
  z.object({
    mode: z
      .enum(['none', 'broker', 'manual'])
      .default('none')
      .describe('none: IPv4 only; broker: lease a prefix from a BlockHost broker; manual: use prefix.'),
    prefix: ipv6Cidr
      .optional()
      .describe('Routed prefix VMs get one /128 from (manual mode); gateway is prefix::1.'),
    brokerRegistry: ethAddress
      .optional()
      .describe('BrokerRegistry contract to find a broker in (broker mode).'),
    allocationSize: z
      .int()
      .min(48)
      .max(124)
      .default(64)
      .describe('Prefix length to request from the broker.'),
  }),
  [
    {
      rule: "self.mode != 'manual' || has(self.prefix)",
      message: 'prefix is required when mode is manual',
      fieldPath: '.prefix',
      reason: 'FieldValueRequired',
      check: (v) => v.mode !== 'manual' || v.prefix !== undefined,
    },
    {
      rule: "self.mode != 'broker' || has(self.brokerRegistry)",
      message: 'brokerRegistry is required when mode is broker',
      fieldPath: '.brokerRegistry',
      reason: 'FieldValueRequired',
      check: (v) => v.mode !== 'broker' || v.brokerRegistry !== undefined,
    },
    {
      rule: '!has(self.prefix) || (cidr(self.prefix) == cidr(self.prefix).masked() && cidr(self.prefix).prefixLength() <= 124)',
      message: 'prefix must be a network prefix (zero host bits) no longer than /124',
      fieldPath: '.prefix',
      check: (v) => v.prefix === undefined || (isNetworkCidr(v.prefix) && parseCidr(v.prefix)!.prefix <= 124),
    },
  ],
);

const adminCommands = withCel(
  z.object({
    enabled: z.boolean().default(false).describe('Accept on-chain admin commands (port knocking).'),
    commandName: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, "_" or "-"')
      .optional()
      .describe('Secret name of the knock command; commands with another name are ignored.'),
    ports: setList(z.int().min(1).max(65_535), 16).min(1).default([22]).describe('Ports a knock opens.'),
    durationSeconds: z.int().min(1).max(3600).default(300).describe('How long a knock keeps the ports open.'),
    maxCommandAgeSeconds: z
      .int()
      .min(1)
      .max(3600)
      .default(300)
      .describe('Oldest command transaction still accepted.'),
  }),
  [
    {
      rule: '!self.enabled || has(self.commandName)',
      message: 'commandName is required when enabled',
      fieldPath: '.commandName',
      reason: 'FieldValueRequired',
      check: (c) => !c.enabled || c.commandName !== undefined,
    },
  ],
);

const admin = z.object({
  wallet: ethAddress.describe('Admin wallet; receives the admin credential NFT.'),
  signature: signature.describe(
    'EIP-191 signature of publicSecret by wallet, made in the wizard; proves control of the wallet and keys admin-encrypted data.',
  ),
  credentialTokenId: uint256
    .default('0')
    .describe('Token id of the admin credential NFT whose holder is admin (the first mint, 0).'),
  commands: adminCommands.prefault({}).describe('On-chain admin commands.'),
});

/** Seed roles whose address BlockHost knows (dev) or learns from the broker lease (broker). */
const builtInRoles = ['dev', 'broker'];

const revenueRecipient = withCel(
  z.object({
    role: z
      .string()
      .min(1)
      .max(32)
      .regex(/^[a-z][a-z0-9-]*$/, 'must be a lowercase role name')
      .describe(`Recipient role: ${builtInRoles.join(' or ')}, or any name given an address.`),
    address: ethAddress.optional().describe('Payout address; required for roles other than dev and broker.'),
    percent: z.number().positive().max(100).describe('Percent of revenue paid to this recipient.'),
  }),
  [
    {
      rule: `self.role in [${builtInRoles.map((r) => `'${r}'`).join(', ')}] || has(self.address)`,
      message: `address is required for roles other than ${builtInRoles.join(' and ')}`,
      fieldPath: '.address',
      reason: 'FieldValueRequired',
      check: (r) => builtInRoles.includes(r.role) || r.address !== undefined,
    },
  ],
);

const revenueShare = withCel(
  z.object({
    enabled: z.boolean().default(false).describe('Share revenue with the recipients.'),
    totalPercent: z
      .number()
      .min(0)
      .max(100)
      .default(1)
      .describe('Percent of revenue shared in total; the recipients split it.'),
    recipients: mapList(revenueRecipient, 'role', 8)
      .default([])
      .describe('Who receives the share, one entry per role.'),
  }),
  [
    {
      rule: '!self.enabled || size(self.recipients) > 0',
      message: 'recipients must not be empty when enabled',
      fieldPath: '.recipients',
      check: (r) => !r.enabled || r.recipients.length > 0,
    },
    {
      // Within 1e-6, as sums of decimal fractions are inexact in floating point.
      rule: '!self.enabled || size(self.recipients) == 0 || (self.recipients.map(r, r.percent).sum() - self.totalPercent <= 0.000001 && self.totalPercent - self.recipients.map(r, r.percent).sum() <= 0.000001)',
      message: 'recipient percents must add up to totalPercent',
      fieldPath: '.recipients',
      check: (r) =>
        !r.enabled ||
        r.recipients.length === 0 ||
        Math.abs(r.recipients.reduce((sum, x) => sum + x.percent, 0) - r.totalPercent) <= 1e-6,
    },
  ],
);

export const hostConfigSpecSchema = z
  .object({
    network: network.describe('Host network.'),
    storage: z
      .object({
        device: z
          .string()
          .max(128)
          .regex(/^\/dev\/[A-Za-z0-9._/-]+$/, 'must be a device path under /dev')
          .describe('Disk for VM storage, e.g. /dev/sda.'),
      })
      .optional()
      .describe('Disk the wizard dedicated to VM storage; absent: the storage the node already has.'),
    chain: chain.describe('Blockchain, RPC and contracts.'),
    backend: backendSettings.describe('VM backend and its settings.'),
    ipv4Pool: ipv4Pool.describe('IPv4 addresses handed to VMs.'),
    ipv6: ipv6.prefault({}).describe('IPv6 for VMs: one /128 each.'),
    publicSecret: z
      .string()
      .min(1)
      .max(256)
      .default('blockhost-access')
      .describe(
        'Message customers and the admin sign; keys their encrypted connection details. Changing it breaks existing NFTs.',
      ),
    admin: admin.describe('Admin wallet and admin commands.'),
    signup: z
      .object({
        hostname: z
          .hostname()
          .max(253)
          .optional()
          .describe('Public host name of the signup page; absent: the node address.'),
        url: url('https?')
          .optional()
          .describe(
            'Full public URL of the signup page when it is not https://<hostname>/ (another port or scheme, e.g. behind a proxy); the login prompt links to <url>/sign.',
          ),
      })
      .optional()
      .describe('Signup page publication.'),
    revenueShare: revenueShare.prefault({}).describe('Revenue sharing.'),
    gcGraceDays: z
      .int()
      .min(0)
      .max(365)
      .default(7)
      .describe('Days a suspended (expired) VM is kept before it is destroyed.'),
    defaultExpiryDays: z
      .int()
      .min(1)
      .max(3650)
      .default(30)
      .describe('Lifetime of VMs created without a subscription (by an admin).'),
  })
  .describe('Everything the setup wizard collects.');

export const hostConfigStatusSchema = z
  .object({
    conditions: conditions([...HOST_CONFIG_CONDITIONS, 'ServerWalletLow']).optional(),
    observedGeneration: observedGeneration.optional(),
    message: z
      .string()
      .max(4096)
      .optional()
      .describe('Summary of the step in progress or the reason setup is stuck.'),
    serverAddress: ethAddress
      .optional()
      .describe(
        'Address of the server (deployer) wallet: owns the contracts, signs and pays for every transaction.',
      ),
    serverPublicKey: z
      .string()
      .max(132)
      .regex(
        /^0x04[0-9a-fA-F]{128}$/,
        'must be an uncompressed secp256k1 public key: 0x04 and 128 hex digits',
      )
      .optional()
      .describe(
        'Uncompressed public key (0x04, X, Y) of the decrypt key (Secret blockhost-decrypt-key) that signup pages encrypt to.',
      ),
    contracts: z
      .object({
        subscriptions: ethAddress.optional().describe('BlockhostSubscriptions contract in use.'),
        nft: ethAddress.optional().describe('AccessCredentialNFT contract in use.'),
        stablecoin: ethAddress.optional().describe('Primary stablecoin of the subscriptions contract.'),
        startBlock: z.int().min(0).optional().describe('Block the chain watcher starts scanning from.'),
      })
      .optional()
      .describe('Contracts in use, given or deployed.'),
    adminCredentialTokenId: uint256.optional().describe('Token id of the minted admin credential NFT.'),
    ipv6Prefix: ipv6Cidr.optional().describe('IPv6 prefix in use (leased from the broker or manual).'),
    signupUrl: url('https?').optional().describe('Where the signup page is published.'),
  })
  .describe('Progress of setup, one condition per step.');

export const hostConfigKind = defineKind(
  {
    kind: 'HostConfig',
    plural: 'hostconfigs',
    singular: 'hostconfig',
    shortNames: ['hc'],
    scope: 'Cluster',
    description: `Configuration of this BlockHost server, made by the setup wizard. Singleton named "${HOST_CONFIG_NAME}".`,
    printerColumns: [
      { name: 'Chain', type: 'integer', jsonPath: '.spec.chain.chainId', description: 'Chain id.' },
      { name: 'Backend', type: 'string', jsonPath: '.spec.backend.type', description: 'VM backend.' },
      {
        name: 'Ready',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Ready")].status',
        description: 'Whether setup has finished.',
      },
    ],
  },
  hostConfigSpecSchema,
  hostConfigStatusSchema,
  [
    {
      rule: `self.metadata.name == '${HOST_CONFIG_NAME}'`,
      message: `HostConfig is a singleton: metadata.name must be "${HOST_CONFIG_NAME}"`,
      check: (o) => o.metadata.name === HOST_CONFIG_NAME,
    },
  ],
);

export const hostConfigSchema = hostConfigKind.schema;
export type HostConfigSpec = z.infer<typeof hostConfigSpecSchema>;
export type HostConfigStatus = z.infer<typeof hostConfigStatusSchema>;
export type HostConfig = z.infer<typeof hostConfigSchema>;
