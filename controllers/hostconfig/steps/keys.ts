import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { SERVER_WALLET_HANDOVER } from '../../../lib/api/handover.js';
import { generateServerKey, parsePrivateKey, publicKeyFromPrivateKey } from '../../../lib/crypto/index.js';
import { isAlreadyExists, isNotFound } from '../../../lib/kube/errors.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { notReady, ready, type SetupContext, type StepResult } from '../step.js';

interface Secret extends KubeObject {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

const KEY = 'privateKey';

/** The key in `text` as 0x-hex, or undefined when it is not a secp256k1 private key. */
function keyOf(text: string): Hex | undefined {
  try {
    parsePrivateKey(text);
    return (text.startsWith('0x') ? text : `0x${text}`) as Hex;
  } catch {
    return undefined;
  }
}

const walletLabels = {
  'app.kubernetes.io/part-of': 'blockhost',
  'app.kubernetes.io/component': 'server-wallet',
};

/**
 * The wizard's imported key (lib/api/handover.ts): moved into the state namespace
 * only when the handover Secret the HostConfig names holds a key of the address it records. Returns
 * a not-ready result when the handover is unusable, undefined when there is none.
 */
async function takeOverImportedKey(context: SetupContext, name: string): Promise<StepResult | undefined> {
  const { kube, namespace, host, log, chain } = context;
  const annotations = host.metadata.annotations ?? {};
  const handoverName = annotations[SERVER_WALLET_HANDOVER.secretAnnotation];
  const address = annotations[SERVER_WALLET_HANDOVER.addressAnnotation];
  if (!handoverName) return undefined;
  const where = `handover Secret ${chain.namespace}/${handoverName}`;
  const handover = await kube
    .get<Secret>(coreTypes.secret, handoverName, chain.namespace)
    .catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
  if (!handover) return undefined; // taken over (and deleted) before, or never made: generate as usual
  const encoded = handover.data?.[SERVER_WALLET_HANDOVER.key];
  const key = encoded ? keyOf(Buffer.from(encoded, 'base64').toString('utf8').trim()) : undefined;
  const actual = key && privateKeyToAccount(key).address;
  if (!actual || !address || actual.toLowerCase() !== address.toLowerCase())
    return notReady(
      'HandoverMismatch',
      `${where} does not hold the key of ${address ?? '(no address recorded)'} that the HostConfig annotation ` +
        `${SERVER_WALLET_HANDOVER.addressAnnotation} names; it is not used: import the key again with the wizard`,
    );
  try {
    await kube.create<Secret>(coreTypes.secret, {
      metadata: {
        name,
        namespace,
        labels: walletLabels,
        annotations: { 'blockhost.io/imported-from': `${chain.namespace}/${handoverName}` },
      },
      type: 'Opaque',
      stringData: { [KEY]: key },
    } as Secret);
    log.info({ secret: `${namespace}/${name}`, address: actual }, 'took over the imported server wallet');
  } catch (error) {
    // A key is never overwritten; the one already stored stays (and the handover goes below).
    if (!isAlreadyExists(error)) throw error;
  }
  await kube.delete(coreTypes.secret, handoverName, chain.namespace).catch((error: unknown) => {
    if (!isNotFound(error)) throw error;
  });
  return undefined;
}

/**
 * Upgrade from a release that kept the key in the release namespace: that Secret is copied into the
 * state namespace only when its key is the server wallet this controller already recorded in the
 * HostConfig status (which only the controller writes), so a key planted there is never adopted.
 */
async function adoptPreviousKey(context: SetupContext, name: string): Promise<void> {
  const { kube, namespace, host, log, chain } = context;
  const recorded = host.status?.serverAddress;
  if (!recorded || chain.namespace === namespace) return;
  const previous = await kube.get<Secret>(coreTypes.secret, name, chain.namespace).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  const encoded = previous?.data?.[KEY];
  const key = encoded ? keyOf(Buffer.from(encoded, 'base64').toString('utf8').trim()) : undefined;
  if (!key || privateKeyToAccount(key).address.toLowerCase() !== recorded.toLowerCase()) return;
  try {
    await kube.create<Secret>(coreTypes.secret, {
      metadata: {
        name,
        namespace,
        labels: walletLabels,
        annotations: { 'blockhost.io/imported-from': `${chain.namespace}/${name}` },
      },
      type: 'Opaque',
      stringData: { [KEY]: key },
    } as Secret);
    log.info(
      { secret: `${namespace}/${name}`, address: recorded },
      'moved the server wallet to the state namespace',
    );
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
  }
}

/**
 * KeysReady: the server wallet key lives in a Secret of the controller's state namespace, which only
 * the controller can write. A key the wizard imported arrives through a checked handover (above).
 * When there is none and generation is allowed, a fresh key is created; create is atomic, so when
 * two replicas race the loser re-reads the winner's key. A Secret without a usable key is refused,
 * never overwritten: it may be the key of a funded wallet.
 */
export async function keysStep(context: SetupContext): Promise<StepResult> {
  const { kube, namespace, host, log } = context;
  const { secretRef, generate } = host.spec.chain.serverWallet;
  const where = `Secret ${namespace}/${secretRef.name}`;
  let secret = await readSecret(context, secretRef.name);
  if (!secret) {
    await adoptPreviousKey(context, secretRef.name);
    const refused = await takeOverImportedKey(context, secretRef.name);
    if (refused) return refused;
    secret = await readSecret(context, secretRef.name);
  }
  if (!secret) {
    if (!generate)
      return notReady(
        'SecretMissing',
        `${where} does not exist and spec.chain.serverWallet.generate is false: create it with the server key under "${KEY}"`,
      );
    const key = generateServerKey();
    try {
      secret = await kube.create<Secret>(coreTypes.secret, {
        metadata: {
          name: secretRef.name,
          namespace,
          labels: walletLabels,
          // Deliberately no owner reference: deleting the HostConfig must never delete a funded key.
          annotations: { 'blockhost.io/generated-by': 'hostconfig-controller' },
        },
        type: 'Opaque',
        stringData: { [KEY]: `0x${key.privateKey}` },
      } as Secret);
      log.info({ secret: where, address: key.address }, 'generated the server wallet');
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      secret = await readSecret(context, secretRef.name);
      if (!secret) throw new Error(`${where} existed a moment ago and is gone`, { cause: error });
    }
  }
  // The API server always answers with base64 `data`; stringData is write-only.
  const encoded = secret.data?.[KEY];
  if (!encoded) return notReady('InvalidKey', `${where} has no "${KEY}" key`);
  const text = Buffer.from(encoded, 'base64').toString('utf8').trim();
  const privateKey = keyOf(text);
  if (!privateKey) {
    // Never echo the value: it is (meant to be) a private key.
    return notReady(
      'InvalidKey',
      `${where} key "${KEY}" is not a secp256k1 private key (expected 64 hex digits, optionally 0x-prefixed); fix or delete the Secret`,
    );
  }
  const account = privateKeyToAccount(privateKey);
  const publicKey = `0x${publicKeyFromPrivateKey(privateKey)}` as Hex;
  context.state.server = { account, privateKey, address: account.address as Address, publicKey };
  return ready('KeyAvailable', `server wallet ${account.address} (key in ${where})`, {
    serverAddress: account.address,
    serverPublicKey: publicKey,
  });
}

async function readSecret({ kube, namespace }: SetupContext, name: string): Promise<Secret | undefined> {
  try {
    return await kube.get<Secret>(coreTypes.secret, name, namespace);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
