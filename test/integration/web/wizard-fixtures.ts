// Shared by the wizard's tests: the one-time code Secret, valid values for every step, and a
// deep merge to derive invalid variants from them.
import type { KubeClient } from '../../../lib/kube/client.js';
import { isNotFound } from '../../../lib/kube/errors.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { SETUP_CODE_SECRET } from '../../../web/wizard/setup-code.js';
import type { StepName } from '../../../web/wizard/steps.js';
import { DEFAULT_TOKEN, type FakeProxmox } from '../../harness/proxmox/fake-pve.js';

export const TEMPLATE_VMID = 9000;
export const SIGNUP_HOSTNAME = 'wizard.blockhost.test';

/** Issues a code the way first boot does (replacing the Secret, so earlier annotations go). */
export async function issueCode(
  kube: KubeClient,
  namespace: string,
  code: string,
  issuedAt: Date,
): Promise<void> {
  await kube.delete(coreTypes.secret, SETUP_CODE_SECRET, namespace).catch((error: unknown) => {
    if (!isNotFound(error)) throw error;
  });
  await kube.create(coreTypes.secret, {
    metadata: { name: SETUP_CODE_SECRET, namespace },
    stringData: { code, issuedAt: issuedAt.toISOString().replace(/\.\d{3}Z$/, 'Z') },
  } as KubeObject);
}

export interface StepEnvironment {
  rpcUrl: string;
  chainId: number;
  stablecoin: string;
  proxmox: FakeProxmox;
}

/** A valid body for every step (deploy on the test chain, Proxmox fake backend). */
export function validSteps(env: StepEnvironment): Record<StepName, Record<string, unknown>> {
  return {
    network: { network: { mode: 'dhcp' }, signup: { hostname: SIGNUP_HOSTNAME } },
    storage: {},
    chain: {
      chain: {
        chainId: env.chainId,
        rpcEndpoints: [env.rpcUrl],
        confirmations: 0,
        deploy: true,
        stablecoin: env.stablecoin,
      },
      serverWallet: 'generate',
    },
    plans: {
      plans: [
        {
          displayName: 'Basic VM',
          priceUsdCentsPerDay: 50,
          size: { cpu: 1, memoryMiB: 2048, diskGiB: 20, image: 'debian-12' },
        },
      ],
      revenueShare: { enabled: false },
    },
    backend: {
      backend: {
        type: 'proxmox',
        proxmox: {
          apiUrl: env.proxmox.url,
          node: env.proxmox.node,
          insecureSkipTLSVerify: true,
          vmidRange: { start: 100, end: 199 },
          images: [{ name: 'debian-12', templateVmid: TEMPLATE_VMID }],
        },
      },
      gcGraceDays: 7,
      proxmoxToken: { tokenId: DEFAULT_TOKEN.tokenId, secret: DEFAULT_TOKEN.secret },
    },
    ipv4: {
      ipv4Pool: {
        network: '192.168.122.0/24',
        start: '192.168.122.200',
        end: '192.168.122.250',
        gateway: '192.168.122.1',
      },
    },
    ipv6: { ipv6: { mode: 'none' } },
    admin: {
      admin: { commands: { enabled: true, commandName: 'open-sesame', ports: [22], durationSeconds: 300 } },
    },
  };
}

/** `base` with `patch` merged in (objects merge, arrays and scalars replace, `undefined` removes). */
export function merged<T>(base: T, patch: unknown): T {
  if (patch === undefined || patch === null || typeof patch !== 'object' || Array.isArray(patch))
    return patch as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete out[key];
    else
      out[key] =
        typeof value === 'object' && value !== null && !Array.isArray(value)
          ? merged(out[key] ?? {}, value)
          : value;
  }
  return out as T;
}
