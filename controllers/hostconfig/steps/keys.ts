import type { Hex } from 'viem';
import { SERVER_WALLET_HANDOVER } from '../../../lib/api/handover.js';
import { generateServerKey } from '../../../lib/crypto/index.js';
import { isAlreadyExists, isNotFound } from '../../../lib/kube/errors.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import {
  DECRYPT_KEY_SECRET,
  decryptKey,
  deployerKey,
  keyRolesProblem,
  parseKeyText,
  PRIVATE_KEY_FIELD as KEY,
  SHARED_KEY_ANNOTATION,
} from '../../wallet/keys.js';
import { notReady, ready, type SetupContext, type StepResult } from '../step.js';

interface Secret extends KubeObject {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

const labels = (component: 'server-wallet' | 'decrypt-key') => ({
  'app.kubernetes.io/part-of': 'blockhost',
  'app.kubernetes.io/component': component,
});

/** The private key a Secret holds, or undefined when it has none that parses. */
function keyIn(secret: Secret | undefined): Hex | undefined {
  const encoded = secret?.data?.[KEY];
  return encoded ? parseKeyText(Buffer.from(encoded, 'base64').toString('utf8')) : undefined;
}

/**
 * Creates a key Secret in the state namespace. A key is never overwritten: when the Secret exists
 * already (another replica, an earlier pass), the stored one stays and is what the caller re-reads.
 */
async function storeKey(
  context: SetupContext,
  name: string,
  component: 'server-wallet' | 'decrypt-key',
  key: Hex,
  annotations: Record<string, string>,
): Promise<boolean> {
  try {
    await context.kube.create<Secret>(coreTypes.secret, {
      // Deliberately no owner reference: deleting the HostConfig must never delete a key.
      metadata: { name, namespace: context.namespace, labels: labels(component), annotations },
      type: 'Opaque',
      stringData: { [KEY]: key },
    } as Secret);
    return true;
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
    return false;
  }
}

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
  const handover = await readSecret(context, handoverName, chain.namespace);
  if (!handover) return undefined; // taken over (and deleted) before, or never made: generate as usual
  const key = keyIn(handover);
  const actual = key && deployerKey(key).address;
  if (!key || !actual || !address || actual.toLowerCase() !== address.toLowerCase())
    return notReady(
      'HandoverMismatch',
      `${where} does not hold the key of ${address ?? '(no address recorded)'} that the HostConfig annotation ` +
        `${SERVER_WALLET_HANDOVER.addressAnnotation} names; it is not used: import the key again with the wizard`,
    );
  if (
    await storeKey(context, name, 'server-wallet', key, {
      'blockhost.io/imported-from': `${chain.namespace}/${handoverName}`,
    })
  )
    log.info({ secret: `${namespace}/${name}`, address: actual }, 'took over the imported server wallet');
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
  const { namespace, host, log, chain } = context;
  const recorded = host.status?.serverAddress;
  if (!recorded || chain.namespace === namespace) return;
  const key = keyIn(await readSecret(context, name, chain.namespace));
  if (!key || deployerKey(key).address.toLowerCase() !== recorded.toLowerCase()) return;
  if (
    await storeKey(context, name, 'server-wallet', key, {
      'blockhost.io/imported-from': `${chain.namespace}/${name}`,
    })
  )
    log.info(
      { secret: `${namespace}/${name}`, address: recorded },
      'moved the server wallet to the state namespace',
    );
}

/** The deployer key (spec.chain.serverWallet): stored, taken over from the wizard, adopted, or generated. */
async function resolveDeployer(context: SetupContext): Promise<{ key: Hex } | StepResult> {
  const { namespace, host, log } = context;
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
    const fresh = generateServerKey();
    if (
      await storeKey(context, secretRef.name, 'server-wallet', `0x${fresh.privateKey}`, {
        'blockhost.io/generated-by': 'hostconfig-controller',
      })
    )
      log.info({ secret: where, address: fresh.address }, 'generated the server wallet');
    secret = await readSecret(context, secretRef.name);
    if (!secret) throw new Error(`${where} existed a moment ago and is gone`);
  }
  return parsedKey(secret, where);
}

/**
 * The decrypt key (Secret DECRYPT_KEY_SECRET). Only ever generated here, never imported, so nothing
 * another component writes can become it. When it is missing:
 * - a host that published the deployer's own public key (status.serverPublicKey, written only by
 *   this controller) was set up with one key before the split: the decrypt Secret gets a copy of that
 *   key, marked as shared, so every purchase encrypted to it stays decryptable and nothing on-chain
 *   changes;
 * - a host that published another key has lost its decrypt key: a new one would make every pending
 *   purchase undecryptable, so setup stops until it is restored;
 * - otherwise (a new host) a fresh key is generated.
 */
async function resolveDecrypt(
  context: SetupContext,
  deployer: Hex,
): Promise<{ key: Hex; annotations?: Record<string, string> } | StepResult> {
  const { namespace, host, log } = context;
  const where = `Secret ${namespace}/${DECRYPT_KEY_SECRET}`;
  let secret = await readSecret(context, DECRYPT_KEY_SECRET);
  if (!secret) {
    const published = host.status?.serverPublicKey?.toLowerCase();
    const single = decryptKey(deployer);
    if (published === single.publicKey.toLowerCase()) {
      if (
        await storeKey(context, DECRYPT_KEY_SECRET, 'decrypt-key', deployer, {
          [SHARED_KEY_ANNOTATION]: 'true',
        })
      )
        log.info(
          { secret: where, address: single.address },
          'single-key host: the decrypt key is the deployer key it published',
        );
    } else if (published) {
      return notReady(
        'DecryptKeyMissing',
        `${where} does not exist but the host published the decrypt key ${host.status?.serverPublicKey}: ` +
          `restore the Secret from its backup (a new key could not decrypt purchases made to the published one)`,
      );
    } else {
      const fresh = generateServerKey();
      if (
        await storeKey(context, DECRYPT_KEY_SECRET, 'decrypt-key', `0x${fresh.privateKey}`, {
          'blockhost.io/generated-by': 'hostconfig-controller',
        })
      )
        log.info({ secret: where, address: fresh.address }, 'generated the decrypt key');
    }
    secret = await readSecret(context, DECRYPT_KEY_SECRET);
    if (!secret) throw new Error(`${where} existed a moment ago and is gone`);
  }
  const parsed = parsedKey(secret, where);
  return 'key' in parsed ? { key: parsed.key, annotations: secret.metadata.annotations } : parsed;
}

/** A Secret's key, or why it is unusable. A bad key is refused, never overwritten: it may be a funded wallet's. */
function parsedKey(secret: Secret, where: string): { key: Hex } | StepResult {
  // The API server always answers with base64 `data`; stringData is write-only.
  if (!secret.data?.[KEY]) return notReady('InvalidKey', `${where} has no "${KEY}" key`);
  const key = keyIn(secret);
  // Never echo the value: it is (meant to be) a private key.
  if (!key)
    return notReady(
      'InvalidKey',
      `${where} key "${KEY}" is not a secp256k1 private key (expected 64 hex digits, optionally 0x-prefixed); fix or delete the Secret`,
    );
  return { key };
}

/**
 * KeysReady: both keys live in Secrets of the controller's state namespace, which only the controller
 * can write: the deployer key (owns the contracts, pays gas; the wizard may import it through a
 * checked handover) and the decrypt key (its public key is what customers encrypt to). Create is
 * atomic, so when two replicas race the loser re-reads the winner's key.
 */
export async function keysStep(context: SetupContext): Promise<StepResult> {
  const deployerSecret = await resolveDeployer(context);
  if (!('key' in deployerSecret)) return deployerSecret;
  const decryptSecret = await resolveDecrypt(context, deployerSecret.key);
  if (!('key' in decryptSecret)) return decryptSecret;
  const deployer = deployerKey(deployerSecret.key);
  const decrypt = decryptKey(decryptSecret.key);
  const problem = keyRolesProblem(deployer, decrypt, decryptSecret.annotations);
  if (problem) return notReady('SharedKey', problem);
  context.state.deployer = deployer;
  const shared = deployer.address === decrypt.address;
  return ready(
    'KeyAvailable',
    `server (deployer) wallet ${deployer.address} in Secret ${context.namespace}/${context.host.spec.chain.serverWallet.secretRef.name}; ` +
      `decrypt key ${decrypt.address} in Secret ${context.namespace}/${DECRYPT_KEY_SECRET}` +
      (shared ? ' (the same key: this host was set up with one key)' : ''),
    { serverAddress: deployer.address, serverPublicKey: decrypt.publicKey },
  );
}

async function readSecret(
  { kube, namespace }: SetupContext,
  name: string,
  inNamespace = namespace,
): Promise<Secret | undefined> {
  try {
    return await kube.get<Secret>(coreTypes.secret, name, inNamespace);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
