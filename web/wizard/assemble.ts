/**
 * Session values ⇄ the objects the wizard applies: the HostConfig spec and the Plans. The
 * assembled spec is validated with the CRD's own schema, so a cross-step mistake (a plan image the
 * backend does not list) is caught at the summary, before anything is written.
 */
import type { z } from 'zod';
import { hostConfigSpecSchema, type HostConfigSpec } from '../../lib/api/v1alpha1/hostconfig.js';
import type { PlanSpec } from '../../lib/api/v1alpha1/plan.js';
import type { BackupPayload } from '../../lib/config-backup/index.js';
import type { WizardSession } from './session.js';
import { STEPS, type StepName, type StepValues } from './steps.js';

export interface Assembled {
  spec: HostConfigSpec;
  plans: { name: string; spec: PlanSpec }[];
}

export type AssembleResult =
  { ok: true; value: Assembled } | { ok: false; missing: string[]; fields: Record<string, string> };

/** Plan object name from its display name: lowercase DNS label, unique within the list. */
export function planObjectNames(plans: readonly { displayName: string }[]): string[] {
  const used = new Set<string>();
  return plans.map(({ displayName }) => {
    const base =
      displayName
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-+|-+$/g, '')
        .slice(0, 50) || 'plan';
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}-${n}`;
    used.add(name);
    return name;
  });
}

/** Which step a spec field path (`ipv4Pool.gateway`) belongs to, for links from the summary. */
export function stepOfField(path: string): StepName | 'wallet' {
  const top = path.split('.')[0];
  const byTop: Record<string, StepName | 'wallet'> = {
    network: 'network',
    signup: 'network',
    storage: 'storage',
    chain: 'chain',
    plans: 'plans',
    revenueShare: 'plans',
    backend: 'backend',
    gcGraceDays: 'backend',
    ipv4Pool: 'ipv4',
    ipv6: 'ipv6',
    admin: 'admin',
  };
  return path.startsWith('admin.wallet') || path.startsWith('admin.signature') || top === 'publicSecret'
    ? 'wallet'
    : (byTop[top ?? ''] ?? 'wallet');
}

function collectFields(error: z.ZodError, prefix: string[] = []): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues)
    fields[[...prefix, ...issue.path.map(String)].join('.')] ??= issue.message;
  return fields;
}

export function assemble(session: WizardSession): AssembleResult {
  const { steps, wallet } = session;
  const missing = [
    ...(wallet ? [] : ['wallet']),
    ...STEPS.filter(({ name }) => name !== 'storage' && steps[name] === undefined).map(({ name }) => name),
  ];
  if (missing.length > 0) return { ok: false, missing, fields: {} };
  const s = steps as StepValues;
  const input = {
    ...s.network,
    ...(s.storage?.storage && { storage: s.storage.storage }),
    chain: { ...s.chain.chain, serverWallet: { generate: s.chain.serverWallet === 'generate' } },
    revenueShare: s.plans.revenueShare,
    backend: s.backend.backend,
    gcGraceDays: s.backend.gcGraceDays,
    ipv4Pool: s.ipv4.ipv4Pool,
    ipv6: s.ipv6.ipv6,
    publicSecret: wallet!.publicSecret,
    admin: { wallet: wallet!.address, signature: wallet!.signature, commands: s.admin.admin.commands },
  };
  const parsed = hostConfigSpecSchema.safeParse(input);
  const fields = parsed.success ? {} : collectFields(parsed.error);
  // Plans name images from the backend's list; an unknown name would only fail when a VM is made.
  const backend = s.backend.backend;
  const images = (backend[backend.type]?.images ?? []).map((i) => i.name);
  s.plans.plans.forEach((plan, index) => {
    if (plan.size.image !== undefined && !images.includes(plan.size.image))
      fields[`plans.${index}.size.image`] =
        `image "${plan.size.image}" is not in the backend's images (${images.join(', ')})`;
  });
  if (s.chain.serverWallet === 'import' && !session.serverKey)
    fields['chain.serverWallet'] = 'enter the server wallet key to import, or choose to generate one';
  if (backend.type === 'proxmox' && (!s.backend.proxmoxToken || !session.proxmoxSecret))
    fields['proxmoxToken.tokenId'] = 'enter the Proxmox API token (id and secret)';
  if (!parsed.success || Object.keys(fields).length > 0) return { ok: false, missing: [], fields };
  const names = planObjectNames(s.plans.plans);
  return {
    ok: true,
    value: { spec: parsed.data, plans: s.plans.plans.map((spec, index) => ({ name: names[index]!, spec })) },
  };
}

/** A decrypted backup as wizard step values (import fills the session; it never applies). */
export function stepsFromBackup(payload: BackupPayload): Partial<StepValues> {
  const spec = payload.hostConfig;
  return {
    network: { network: spec.network, signup: spec.signup },
    storage: { storage: spec.storage },
    // A key is never in a backup: "generate" keeps using the key stored on the host, if any.
    chain: { chain: spec.chain, serverWallet: spec.chain.serverWallet.generate ? 'generate' : 'import' },
    plans: { plans: payload.plans.map((p) => p.spec), revenueShare: spec.revenueShare },
    // The Proxmox token lives in a Secret, not in the spec: the operator enters it again.
    backend: { backend: spec.backend, gcGraceDays: spec.gcGraceDays },
    ipv4: { ipv4Pool: spec.ipv4Pool },
    ipv6: { ipv6: spec.ipv6 },
    admin: { admin: { commands: spec.admin.commands } },
  };
}
