/**
 * Apply: the one place the wizard writes to the cluster, and only after the summary is confirmed.
 * Secrets first (an imported server key, the Proxmox token), then the HostConfig and the Plans by
 * server-side apply (field manager blockhost-wizard, so a second apply updates instead of failing),
 * then an Event on the HostConfig.
 */
import {
  API_VERSION,
  blockhostTypes,
  HOST_CONFIG_NAME,
  type HostConfig,
} from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isAlreadyExists } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import type { Logger } from '../../lib/log.js';
import { EventRecorder } from '../../lib/runtime/events.js';
import { HttpError } from '../http/errors.js';
import type { Assembled } from './assemble.js';
import type { WizardSession } from './session.js';
import { PROXMOX_TOKEN_SECRET } from './steps.js';

export const FIELD_MANAGER = 'blockhost-wizard';
const LABELS = { 'app.kubernetes.io/managed-by': FIELD_MANAGER };

export async function applyConfiguration(
  kube: KubeClient,
  namespace: string,
  log: Logger,
  session: WizardSession,
  { spec, plans }: Assembled,
): Promise<HostConfig> {
  const apply = { fieldManager: FIELD_MANAGER, force: true };
  if (session.steps.chain?.serverWallet === 'import' && session.serverKey && !session.created.serverWallet) {
    // Create only: the web server never reads or replaces a key Secret.
    try {
      await kube.create(coreTypes.secret, {
        metadata: { name: spec.chain.serverWallet.secretRef.name, namespace, labels: LABELS },
        type: 'Opaque',
        stringData: { privateKey: session.serverKey.privateKey },
      } as KubeObject);
    } catch (error) {
      if (isAlreadyExists(error))
        throw new HttpError(
          409,
          `a server wallet Secret (${spec.chain.serverWallet.secretRef.name}) already exists on this host and is never overwritten: ` +
            'choose "generate" on the chain step to keep using the stored key, or delete that Secret first',
          { 'chain.serverWallet': 'a server wallet is already stored on this host' },
        );
      throw error;
    }
    session.created.serverWallet = true;
    log.info({ address: session.serverKey.address }, 'imported server wallet Secret created');
  }
  const token = session.steps.backend?.proxmoxToken;
  if (spec.backend.type === 'proxmox' && token && session.proxmoxSecret) {
    await kube.patch(
      coreTypes.secret,
      PROXMOX_TOKEN_SECRET,
      namespace,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: PROXMOX_TOKEN_SECRET, namespace, labels: LABELS },
        stringData: { tokenId: token.tokenId, secret: session.proxmoxSecret },
      },
      'apply',
      apply,
    );
  }
  const host = await kube.patch<HostConfig>(
    blockhostTypes.hostConfig,
    HOST_CONFIG_NAME,
    undefined,
    {
      apiVersion: API_VERSION,
      kind: 'HostConfig',
      metadata: { name: HOST_CONFIG_NAME, labels: LABELS },
      spec,
    },
    'apply',
    apply,
  );
  for (const plan of plans)
    await kube.patch(
      blockhostTypes.plan,
      plan.name,
      undefined,
      {
        apiVersion: API_VERSION,
        kind: 'Plan',
        metadata: { name: plan.name, labels: LABELS },
        spec: plan.spec,
      },
      'apply',
      apply,
    );
  await new EventRecorder(kube, log, FIELD_MANAGER).record(
    host,
    blockhostTypes.hostConfig,
    'Normal',
    'ConfigurationApplied',
    'Apply',
    `the setup wizard applied the configuration with ${plans.length} plan${plans.length === 1 ? '' : 's'} for admin ${spec.admin.wallet}`,
  );
  log.info({ plans: plans.map((p) => p.name), backend: spec.backend.type }, 'configuration applied');
  return host;
}
