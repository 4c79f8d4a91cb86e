import { z } from 'zod';
import { immutable } from '../cel.js';
import {
  chainId,
  conditions,
  dateTime,
  ethAddress,
  hash32,
  hexBytes,
  localObjectReference,
  observedGeneration,
  positiveUint256,
  uint256,
} from './common.js';
import { defineKind } from './kind.js';

export const SUBSCRIPTION_PHASES = [
  'Pending',
  'Provisioning',
  'Active',
  'Suspended',
  'Expired',
  'Cancelled',
  'Failed',
] as const;

export const SUBSCRIPTION_CONDITIONS = [
  'Decrypted',
  'VMReady',
  'NFTMinted',
  'ExpiryConfirmed',
  'ChainTimeTrusted',
  'ConnectionDetailsCurrent',
  'Ready',
] as const;

/**
 * Name of the Subscription and VM for on-chain subscription `id`, as the seed named VMs:
 * blockhost-007, blockhost-042, blockhost-1234.
 */
export function subscriptionResourceName(id: bigint | number | string): string {
  const text = String(id);
  if (!/^(0|[1-9][0-9]*)$/.test(text)) throw new Error(`not a subscription id: ${text}`);
  return `blockhost-${text.padStart(3, '0')}`;
}

const eventRef = z.object({
  txHash: hash32.describe('Transaction that emitted the event.'),
  logIndex: z.int().min(0).describe('Index of the log in its block.'),
  blockNumber: z.int().min(0).describe('Block the transaction is in.'),
  blockHash: hash32.describe('Hash of that block; a different hash at the same number means a reorg.'),
});

export const subscriptionSpecSchema = z
  .object({
    chainId: immutable(chainId, 'chainId').describe('Chain the subscription lives on.'),
    contract: immutable(ethAddress, 'contract').describe(
      'BlockhostSubscriptions contract that emitted the events.',
    ),
    subscriptionId: immutable(positiveUint256, 'subscriptionId').describe('On-chain subscription id.'),
    // planId and subscriber are facts, not identity: a reorg deeper than the confirmations may give
    // this id to another purchase, and the object must then follow the canonical chain.
    planId: positiveUint256.describe('On-chain plan id.'),
    subscriber: ethAddress.describe('Wallet that bought the subscription.'),
    expiresAt: dateTime.describe(
      "The contract's absolute expiresAt, from the latest Created/Extended/Cancelled event.",
    ),
    userEncrypted: hexBytes(1024).describe(
      "The buyer's signature of the public secret, ECIES-encrypted to the server key (from SubscriptionCreated).",
    ),
    source: eventRef.describe('The SubscriptionCreated event this object was made from.'),
    cancelled: z
      .boolean()
      .default(false)
      .describe(
        'Whether the subscription is cancelled on-chain (read from the contract at the confirmed head).',
      ),
    removedByReorg: z
      .boolean()
      .default(false)
      .describe(
        'The subscription no longer exists on the canonical chain (a reorg deeper than the confirmations removed it). The object is kept, never deleted, so a reorg cannot destroy anything.',
      ),
    payloadError: z
      .string()
      .max(1024)
      .optional()
      .describe(
        'Why the event payload could not be stored as it is (userEncrypted is then empty); the subscription controller fails such subscriptions with this reason.',
      ),
    credential: z
      .object({
        tokenId: uint256.describe('Access credential NFT minted for this subscription.'),
        holder: ethAddress
          .optional()
          .describe('Current owner of that NFT at the confirmed head; SSH access follows it.'),
      })
      .optional()
      .describe(
        "The subscription's NFT as the chain reports it (SubscriptionCredentialMinted and Transfer events).",
      ),
    lastEvent: eventRef
      .extend({
        kind: z
          .enum(['SubscriptionCreated', 'SubscriptionExtended', 'SubscriptionCancelled'])
          .describe('Event name.'),
      })
      .optional()
      .describe('Latest event applied; the chain watcher skips events at or before it.'),
  })
  .describe('On-chain facts, written by the chain watcher only.');

export const subscriptionStatusSchema = z
  .object({
    phase: z.enum(SUBSCRIPTION_PHASES).optional().describe('Lifecycle phase.'),
    reason: z.string().max(128).optional().describe('CamelCase cause of the current phase.'),
    message: z.string().max(4096).optional().describe('Human-readable details of the current phase.'),
    vmRef: localObjectReference.optional().describe('The VM serving this subscription.'),
    nft: z
      .object({
        tokenId: uint256.optional().describe('Access credential NFT token id, read from the mint receipt.'),
        txHash: hash32.optional().describe('Mint transaction.'),
        hostname: z
          .string()
          .max(255)
          .optional()
          .describe(
            "The host the NFT's connection details name now (read from the chain, or what the controller last re-encrypted into them); when the VM's address differs, the controller updates the NFT (updateUserEncrypted).",
          ),
        updates: z
          .int()
          .min(0)
          .optional()
          .describe(
            'How many times the connection details were re-encrypted on-chain; part of the next update transaction key, so a retry never sends it twice.',
          ),
      })
      .optional()
      .describe('The access credential NFT minted for this subscription.'),
    conditions: conditions(SUBSCRIPTION_CONDITIONS).optional(),
    observedGeneration: observedGeneration.optional(),
  })
  .describe('Progress of provisioning and the lifecycle.');

export const subscriptionKind = defineKind(
  {
    kind: 'Subscription',
    plural: 'subscriptions',
    singular: 'subscription',
    shortNames: ['sub', 'bhsub'],
    scope: 'Namespaced',
    description: 'A subscription bought on-chain, mirrored by the chain watcher; drives one VM.',
    printerColumns: [
      {
        name: 'ID',
        type: 'string',
        jsonPath: '.spec.subscriptionId',
        description: 'On-chain subscription id.',
      },
      { name: 'Plan', type: 'string', jsonPath: '.spec.planId', description: 'On-chain plan id.' },
      { name: 'Subscriber', type: 'string', jsonPath: '.spec.subscriber', description: 'Buyer wallet.' },
      // A string, not a date: kubectl renders future dates as <invalid>.
      { name: 'Expires', type: 'string', jsonPath: '.spec.expiresAt', description: 'On-chain expiry.' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Lifecycle phase.' },
      {
        name: 'VM',
        type: 'string',
        jsonPath: '.status.vmRef.name',
        description: 'VM serving the subscription.',
      },
    ],
  },
  subscriptionSpecSchema,
  subscriptionStatusSchema,
  [
    {
      // blockhost-NNN: zero-padded to three digits, longer ids as they are.
      rule: "self.metadata.name == 'blockhost-' + (size(self.spec.subscriptionId) >= 3 ? self.spec.subscriptionId : ('00' + self.spec.subscriptionId).substring(size(self.spec.subscriptionId) - 1))",
      message: 'metadata.name must be blockhost-NNN for spec.subscriptionId NNN (zero-padded to 3 digits)',
      check: (o) => o.metadata.name === subscriptionResourceName(o.spec.subscriptionId),
    },
  ],
);

export const subscriptionSchema = subscriptionKind.schema;
export type SubscriptionSpec = z.infer<typeof subscriptionSpecSchema>;
export type SubscriptionStatus = z.infer<typeof subscriptionStatusSchema>;
export type Subscription = z.infer<typeof subscriptionSchema>;

/**
 * The wallet that may log into a subscription's VM: the NFT's holder at the confirmed head, the
 * subscriber until a credential is seen. A chain fact the chain watcher records — unlike a VM's
 * spec.ownerWallet, which anyone allowed to patch VMs (the dashboard's web server) could change.
 */
export const loginWalletOf = (spec: SubscriptionSpec): string => spec.credential?.holder ?? spec.subscriber;
