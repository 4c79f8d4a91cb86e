import { PROXMOX_TOKEN_HANDOVER } from '../../../lib/api/handover.js';
import { isNotFound } from '../../../lib/kube/errors.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { BackendError } from '../../vm/backend.js';
import { notReady, ready, type SetupContext, type StepResult } from '../step.js';

type Secret = KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> };

/**
 * A Proxmox token the wizard handed over (lib/api/handover.ts): written into the state namespace
 * Secret the driver reads (spec.backend.proxmox.tokenSecretRef) only when it holds the token id the
 * HostConfig annotation names; then the handover is deleted. Returns a not-ready result when the
 * handover is unusable, undefined otherwise.
 */
async function takeOverProxmoxToken(context: SetupContext): Promise<StepResult | undefined> {
  const { kube, namespace, host, chain, log } = context;
  const annotations = host.metadata.annotations ?? {};
  const handoverName = annotations[PROXMOX_TOKEN_HANDOVER.secretAnnotation];
  const tokenId = annotations[PROXMOX_TOKEN_HANDOVER.tokenIdAnnotation];
  const target = host.spec.backend.proxmox?.tokenSecretRef.name;
  if (!handoverName || !target) return undefined;
  const handover = await kube
    .get<Secret>(coreTypes.secret, handoverName, chain.namespace)
    .catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
  if (!handover) return undefined; // taken over before
  const field = (key: string) =>
    Buffer.from(handover.data?.[key] ?? '', 'base64')
      .toString('utf8')
      .trim();
  if (!tokenId || field('tokenId') !== tokenId || !field('secret'))
    return notReady(
      'HandoverMismatch',
      `handover Secret ${chain.namespace}/${handoverName} does not hold the Proxmox token ${tokenId ?? '(no id recorded)'} ` +
        `that the HostConfig annotation ${PROXMOX_TOKEN_HANDOVER.tokenIdAnnotation} names; it is not used: enter the token again in the wizard`,
    );
  // Server-side apply: creates the Secret or replaces the token the operator entered again.
  await kube.patch(
    coreTypes.secret,
    target,
    namespace,
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: target,
        namespace,
        annotations: { 'blockhost.io/imported-from': `${chain.namespace}/${handoverName}` },
      },
      stringData: { tokenId, secret: field('secret') },
    },
    'apply',
    { fieldManager: 'blockhost-hostconfig', force: true },
  );
  await kube.delete(coreTypes.secret, handoverName, chain.namespace).catch((error: unknown) => {
    if (!isNotFound(error)) throw error;
  });
  log.info({ secret: `${namespace}/${target}`, tokenId }, 'took over the Proxmox token');
  return undefined;
}

/**
 * BackendReady: the configured VM backend answers its driver's connectivity check (libvirt: daemon,
 * storage pool, bridge; KubeVirt: API served, namespace; Proxmox: API + token, node, templates).
 * The controller rechecks periodically, so a backend that breaks later shows here. A Proxmox token
 * the wizard handed over is moved into the state namespace first.
 */
/**
 * Upgrade from a release that kept the Proxmox token in the release namespace: copied into the state
 * namespace only while it is missing there and the backend was reachable before (BackendReady=True,
 * a condition only the controller writes), i.e. the token the host has been running with. A Secret
 * planted in the release namespace of a fresh install is never adopted.
 */
async function adoptPreviousToken(context: SetupContext): Promise<void> {
  const { kube, namespace, host, chain, log } = context;
  const name = host.spec.backend.proxmox?.tokenSecretRef.name;
  const wasReady = host.status?.conditions?.some((c) => c.type === 'BackendReady' && c.status === 'True');
  if (!name || !wasReady || chain.namespace === namespace) return;
  const read = (where: string) =>
    kube.get<Secret>(coreTypes.secret, name, where).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
  if (await read(namespace)) return;
  const previous = await read(chain.namespace);
  if (!previous?.data) return;
  await kube.create(coreTypes.secret, {
    metadata: {
      name,
      namespace,
      annotations: { 'blockhost.io/imported-from': `${chain.namespace}/${name}` },
    },
    type: 'Opaque',
    data: previous.data,
  } as Secret);
  log.info({ secret: `${namespace}/${name}` }, 'moved the Proxmox token to the state namespace');
}

export async function backendStep(context: SetupContext): Promise<StepResult> {
  const { backends, host } = context;
  const type = host.spec.backend.type;
  if (type === 'proxmox') {
    await adoptPreviousToken(context);
    const refused = await takeOverProxmoxToken(context);
    if (refused) return refused;
  }
  try {
    const backend = await backends.for(host, type);
    if (!backend.check) return ready('NotChecked', `the ${type} driver has no connectivity check`);
    await backend.check();
  } catch (error) {
    if (error instanceof BackendError) return notReady(error.reason, `${type}: ${error.message}`);
    throw error;
  }
  return ready('BackendReachable', `the ${type} backend is reachable and configured`);
}
