/** Setup progress as the page shows it: only what the HostConfig's status says, nothing inferred. */
import { HOST_CONFIG_CONDITIONS, type HostConfig } from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { readHostConfig } from '../shared/host-config.js';
import { balanceWei, formatEth } from './checks.js';

/** Same name the HostConfig controller watches (docs/setup-pipeline.md "Retries"). */
export const RETRY_SETUP_ANNOTATION = 'blockhost.io/retry-setup';

export const STEP_LABELS: Record<(typeof HOST_CONFIG_CONDITIONS)[number], string> = {
  KeysReady: 'Server keys',
  ContractsReady: 'Contracts',
  AdminCredentialMinted: 'Admin credential NFT',
  PlansReady: 'Plans on chain',
  BackendReady: 'VM backend',
  SignupPublished: 'Signup page',
  Ready: 'Ready',
};

export interface ProgressStep {
  type: string;
  label: string;
  /** Pending: no condition yet. */
  status: 'True' | 'False' | 'Unknown' | 'Pending';
  reason?: string;
  message?: string;
  /** The condition describes an older spec than the one applied. */
  stale: boolean;
}

export interface Progress {
  applied: boolean;
  ready: boolean;
  message?: string;
  steps: ProgressStep[];
  serverAddress?: string;
  serverBalanceEth?: string;
  signupUrl?: string;
}

export const isReady = (host: HostConfig | undefined) =>
  host?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

export async function readProgress(kube: KubeClient): Promise<Progress> {
  const host = await readHostConfig(kube);
  if (!host) return { applied: false, ready: false, steps: [] };
  const conditions = host.status?.conditions ?? [];
  const generation = host.metadata.generation;
  const steps = HOST_CONFIG_CONDITIONS.map((type): ProgressStep => {
    const found = conditions.find((c) => c.type === type);
    return {
      type,
      label: STEP_LABELS[type],
      status: found?.status ?? 'Pending',
      ...(found?.reason && { reason: found.reason }),
      ...(found?.message && { message: found.message }),
      stale:
        found?.observedGeneration !== undefined &&
        generation !== undefined &&
        found.observedGeneration < generation,
    };
  });
  const serverAddress = host.status?.serverAddress;
  let serverBalanceEth: string | undefined;
  const rpc = host.spec.chain.rpcEndpoints[0];
  if (serverAddress && rpc)
    serverBalanceEth = await balanceWei(rpc, serverAddress).then(formatEth, () => undefined);
  return {
    applied: true,
    ready: isReady(host),
    ...(host.status?.message && { message: host.status.message }),
    steps,
    ...(serverAddress && { serverAddress }),
    ...(serverBalanceEth !== undefined && { serverBalanceEth }),
    ...(host.status?.signupUrl && { signupUrl: host.status.signupUrl }),
  };
}
