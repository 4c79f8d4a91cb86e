/**
 * The wizard's steps and their schemas, shared by the server and the page (browser-safe: zod and
 * lib/api only). Each step's value is a slice of HostConfig.spec with the spec's own field paths,
 * so a step validates with the very schema the CRD is generated from (CEL rules included), the
 * server's `fields` errors land on inputs named after those paths, and the summary is the merge of
 * the steps.
 */
import { z } from 'zod';
import { hostConfigSpecSchema } from '../../lib/api/v1alpha1/hostconfig.js';
import { planSpecSchema } from '../../lib/api/v1alpha1/plan.js';

const spec = hostConfigSpecSchema.shape;

/** Secret the wizard writes the Proxmox API token into (the spec only names it). */
export const PROXMOX_TOKEN_SECRET = 'blockhost-proxmox-token';

const proxmoxToken = z.object({
  tokenId: z
    .string()
    .max(128)
    .regex(/^[^\s@!]+@[^\s@!]+![A-Za-z][A-Za-z0-9._-]*$/, 'must be a Proxmox token id: user@realm!tokenname'),
  // Blank keeps the secret entered earlier in this session (it is never sent back to the page).
  secret: z.string().max(128).regex(/^\S*$/, 'must not contain spaces').optional(),
});

export const planStep = planSpecSchema;

export const stepSchemas = {
  network: z.object({ network: spec.network, signup: spec.signup }),
  storage: z.object({ storage: spec.storage }),
  chain: z.object({
    chain: spec.chain,
    serverWallet: z
      .enum(['generate', 'import'])
      .describe('generate: the controller makes a new key at apply; import: an existing key entered here.'),
  }),
  plans: z.object({
    plans: z.array(planSpecSchema).min(1, 'add at least one plan').max(16),
    revenueShare: spec.revenueShare,
  }),
  backend: withProxmoxToken(
    z.object({ backend: spec.backend, gcGraceDays: spec.gcGraceDays, proxmoxToken: proxmoxToken.optional() }),
  ),
  ipv4: z.object({ ipv4Pool: spec.ipv4Pool }),
  ipv6: z.object({ ipv6: spec.ipv6 }),
  admin: z.object({ admin: z.object({ commands: spec.admin.shape.commands }) }),
} as const;

function withProxmoxToken<S extends z.ZodType<{ backend: { type: string }; proxmoxToken?: unknown }>>(
  schema: S,
): S {
  return schema.superRefine((value, ctx) => {
    if (value.backend.type === 'proxmox' && value.proxmoxToken === undefined)
      ctx.addIssue({
        code: 'custom',
        message: 'the Proxmox API token is required',
        path: ['proxmoxToken', 'tokenId'],
        input: value,
      });
  });
}

export type StepName = keyof typeof stepSchemas;
export type StepValues = { [K in StepName]: z.output<(typeof stepSchemas)[K]> };

/** The steps in order, with the title the page shows. */
export const STEPS: readonly { name: StepName; title: string }[] = [
  { name: 'network', title: 'Network' },
  { name: 'storage', title: 'Storage' },
  { name: 'chain', title: 'Chain' },
  { name: 'plans', title: 'Plans and prices' },
  { name: 'backend', title: 'VM backend' },
  { name: 'ipv4', title: 'IPv4 pool' },
  { name: 'ipv6', title: 'IPv6' },
  { name: 'admin', title: 'Admin commands' },
];

export const isStepName = (name: string): name is StepName => Object.hasOwn(stepSchemas, name);

/**
 * Fields the form does not carry but the schema needs, filled the same way on both sides: the
 * Proxmox token Secret's name (the page asks for the token itself instead).
 */
export function completeStep(step: StepName, value: unknown): unknown {
  if (step !== 'backend' || typeof value !== 'object' || value === null) return value;
  const backend = (value as { backend?: { proxmox?: Record<string, unknown> } }).backend;
  if (backend?.proxmox && typeof backend.proxmox === 'object')
    backend.proxmox = { ...backend.proxmox, tokenSecretRef: { name: PROXMOX_TOKEN_SECRET } };
  return value;
}

/** The wallet step: the admin's address and signature of the public secret. */
export const walletStepSchema = z.object({
  address: spec.admin.shape.wallet,
  signature: spec.admin.shape.signature,
  publicSecret: z.string().min(1).max(256),
});

/** The one-time code as typed (case and surrounding spaces do not matter). */
export const loginSchema = z.object({ code: z.string().max(64) });

/** An imported server wallet key: 32 bytes of hex, with or without 0x. */
export const serverKeySchema = z.object({
  privateKey: z
    .string()
    .max(66)
    .regex(/^(0x)?[0-9a-fA-F]{64}$/, 'must be a private key: 64 hex digits, with or without 0x'),
});
