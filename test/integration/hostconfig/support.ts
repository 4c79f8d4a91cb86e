// Shared by the setup-pipeline tests: a HostConfig for a fresh chain, condition reads, and an
// in-process controller manager.
import { registerControllers } from '../../../controllers/setup.js';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import {
  blockhostTypes,
  HOST_CONFIG_NAME,
  type HostConfig,
  type HostConfigSpec,
} from '../../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import type { Condition } from '../../../lib/runtime/conditions.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { RETRY_SETUP_ANNOTATION } from '../../../controllers/hostconfig/schedule.js';
import { eventually } from '../../harness/kube.js';

export const SIGNUP_HOSTNAME = 'setup.blockhost.test';

/** The example HostConfig on `chain` with `overrides` of top-level spec fields. */
export function hostConfig(
  chain: Pick<HostConfigSpec['chain'], 'chainId' | 'rpcEndpoints'> & Partial<HostConfigSpec['chain']>,
  overrides: Partial<HostConfigSpec> = {},
): HostConfig {
  const host = structuredClone(exampleHostConfig) as HostConfig;
  // The API server applies the schema defaults of the fields left out.
  host.spec.chain = chain as HostConfigSpec['chain'];
  host.spec.signup = { hostname: SIGNUP_HOSTNAME };
  Object.assign(host.spec, overrides);
  return host;
}

export const readHost = (kube: KubeClient) =>
  kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);

export async function condition(kube: KubeClient, type: string): Promise<Condition | undefined> {
  return (await readHost(kube)).status?.conditions?.find((c) => c.type === type);
}

/** Waits for condition `type` to have `status` (and `reason`, when given); returns it. */
export async function waitForCondition(
  kube: KubeClient,
  type: string,
  status: 'True' | 'False',
  reason?: string,
  timeoutMs = 60_000,
): Promise<Condition> {
  let last: Condition | undefined;
  await eventually(
    `${type}=${status}${reason ? ` (${reason})` : ''}`,
    async () => {
      last = await condition(kube, type);
      return last?.status === status && (reason === undefined || last.reason === reason);
    },
    timeoutMs,
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(last)}`);
  });
  return last!;
}

/** The stored privateKey of the server wallet Secret, decoded. */
export async function serverWalletKey(kube: KubeClient, namespace: string): Promise<string> {
  const secret = await kube.get<KubeObject & { data: Record<string, string> }>(
    coreTypes.secret,
    'blockhost-server-wallet',
    namespace,
  );
  return Buffer.from(secret.data.privateKey!, 'base64').toString();
}

/** What the wizard's retry button does. */
export const requestRetry = (kube: KubeClient) =>
  kube.patch(
    blockhostTypes.hostConfig,
    HOST_CONFIG_NAME,
    undefined,
    { metadata: { annotations: { [RETRY_SETUP_ANNOTATION]: new Date().toISOString() } } },
    'merge',
  );

/** Every controller, as main.ts registers them, in this process; returns a stop function. */
export function startControllers(kube: KubeClient, namespace: string, name: string): () => Promise<void> {
  const log = createLogger(name);
  const manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
  registerControllers(manager, { namespace, log });
  const running = manager.start();
  return async () => {
    manager.stop();
    await running;
  };
}
