/**
 * Apply: the one place the wizard writes to the cluster, and only after the summary is confirmed.
 * Secrets first (an imported server key and the Proxmox token, as handover Secrets), then the
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
import { PROXMOX_TOKEN_HANDOVER, SERVER_WALLET_HANDOVER } from '../../lib/api/handover.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import type { Logger } from '../../lib/log.js';
import { EventRecorder } from '../../lib/runtime/events.js';
import type { Assembled } from './assemble.js';
import type { WizardSession } from './session.js';

export const FIELD_MANAGER = 'blockhost-wizard';
const LABELS = { 'app.kubernetes.io/managed-by': FIELD_MANAGER };

/** The handovers this session made, so a second apply records the same ones on the HostConfig. */
const handovers = new WeakMap<WizardSession, Record<string, string>>();
/** The Proxmox token last handed over (id and secret), so an unchanged one is not handed over again. */
const tokensHandedOver = new WeakMap<WizardSession, string>();

/** Creates a handover Secret (generateName: the controller checks it, docs/controller-state.md). */
async function handOver(
  kube: KubeClient,
  namespace: string,
  namePrefix: string,
  stringData: Record<string, string>,
): Promise<string> {
  const created = await kube.create(coreTypes.secret, {
    metadata: { generateName: namePrefix, namespace, labels: LABELS },
    type: 'Opaque',
    stringData,
  } as KubeObject);
  return created.metadata.name!;
}

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
    const name = await handOver(kube, namespace, SERVER_WALLET_HANDOVER.namePrefix, {
      [SERVER_WALLET_HANDOVER.key]: session.serverKey.privateKey,
    });
    handovers.set(session, {
      ...handovers.get(session),
      [SERVER_WALLET_HANDOVER.secretAnnotation]: name,
      [SERVER_WALLET_HANDOVER.addressAnnotation]: session.serverKey.address,
    });
    session.created.serverWallet = true;
    log.info({ address: session.serverKey.address, secret: name }, 'imported server key handed over');
  }
  const token = session.steps.backend?.proxmoxToken;
  const tokenText = token && session.proxmoxSecret && `${token.tokenId}\n${session.proxmoxSecret}`;
  if (spec.backend.type === 'proxmox' && token && tokenText && tokensHandedOver.get(session) !== tokenText) {
    const name = await handOver(kube, namespace, PROXMOX_TOKEN_HANDOVER.namePrefix, {
      tokenId: token.tokenId,
      secret: session.proxmoxSecret!,
    });
    handovers.set(session, {
      ...handovers.get(session),
      [PROXMOX_TOKEN_HANDOVER.secretAnnotation]: name,
      [PROXMOX_TOKEN_HANDOVER.tokenIdAnnotation]: token.tokenId,
    });
    tokensHandedOver.set(session, tokenText);
    log.info({ tokenId: token.tokenId, secret: name }, 'Proxmox token handed over');
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
