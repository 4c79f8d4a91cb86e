/**
 * Apply: the one place the wizard writes to the cluster, and only after the summary is confirmed.
 * Secrets first (an imported server key as a handover Secret, the Proxmox token), then the
 * HostConfig and the Plans by server-side apply (field manager blockhost-wizard, so a second apply
 * updates instead of failing), then an Event on the HostConfig.
 */
import {
  API_VERSION,
  blockhostTypes,
  HOST_CONFIG_NAME,
  type HostConfig,
} from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { SERVER_WALLET_HANDOVER } from '../../lib/api/server-wallet-handover.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import type { Logger } from '../../lib/log.js';
import { EventRecorder } from '../../lib/runtime/events.js';
import type { Assembled } from './assemble.js';
import type { WizardSession } from './session.js';
import { PROXMOX_TOKEN_SECRET } from './steps.js';

export const FIELD_MANAGER = 'blockhost-wizard';
const LABELS = { 'app.kubernetes.io/managed-by': FIELD_MANAGER };

/** The handover this session made, so a second apply records the same one on the HostConfig. */
const handovers = new WeakMap<WizardSession, Record<string, string>>();

export async function applyConfiguration(
  kube: KubeClient,
  namespace: string,
  log: Logger,
  session: WizardSession,
  { spec, plans }: Assembled,
): Promise<HostConfig> {
  const apply = { fieldManager: FIELD_MANAGER, force: true };
  if (session.steps.chain?.serverWallet === 'import' && session.serverKey && !session.created.serverWallet) {
    // Create only, under a generated name: the web server never reads a key Secret, and the
    // controller takes this one over only if it holds the key of the address recorded below.
    const created = await kube.create(coreTypes.secret, {
      metadata: { generateName: SERVER_WALLET_HANDOVER.namePrefix, namespace, labels: LABELS },
      type: 'Opaque',
      stringData: { [SERVER_WALLET_HANDOVER.key]: session.serverKey.privateKey },
    } as KubeObject);
    handovers.set(session, {
      [SERVER_WALLET_HANDOVER.secretAnnotation]: created.metadata.name!,
      [SERVER_WALLET_HANDOVER.addressAnnotation]: session.serverKey.address,
    });
    session.created.serverWallet = true;
    log.info(
      { address: session.serverKey.address, secret: created.metadata.name },
      'imported server key handed over',
    );
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
      metadata: { name: HOST_CONFIG_NAME, labels: LABELS, annotations: handovers.get(session) ?? {} },
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
