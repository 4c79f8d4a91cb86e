import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
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

/**
 * KeysReady: the server wallet key lives in a Secret of the controller namespace. When it is absent
 * and generation is allowed, a fresh key is created; create is atomic, so when two replicas race the
 * loser re-reads the winner's key. A Secret without a usable key is refused, never overwritten: it
 * may be the key of a funded wallet.
 */
export async function keysStep(context: SetupContext): Promise<StepResult> {
  const { kube, namespace, host, log } = context;
  const { secretRef, generate } = host.spec.chain.serverWallet;
  const where = `Secret ${namespace}/${secretRef.name}`;
  let secret = await readSecret(context, secretRef.name);
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
          labels: {
            'app.kubernetes.io/part-of': 'blockhost',
            'app.kubernetes.io/component': 'server-wallet',
          },
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
  let privateKey: Hex;
  try {
    parsePrivateKey(text);
    privateKey = (text.startsWith('0x') ? text : `0x${text}`) as Hex;
  } catch {
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
