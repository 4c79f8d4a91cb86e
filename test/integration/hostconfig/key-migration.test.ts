// Upgrade of a host set up with one key (one Secret for decrypting and signing) to the two key
// roles, and a new host with two keys: purchases made before and after decrypt, mints signed by the
// deployer still succeed, and the chain context refuses the deployer key copied into the decrypt
// Secret. Real kube-apiserver, real anvil with the contracts owned by account 0.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { encodeFunctionData, type Hex } from 'viem';
import { AccessCredentialNFTAbi, BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
import { resolveChainContext, type ChainContext } from '../../../controllers/chain/context.js';
import { ChainServices } from '../../../controllers/chain/services.js';
import { ChainWatcher } from '../../../controllers/chain/watcher.js';
import type { SetupContext } from '../../../controllers/hostconfig/step.js';
import { keysStep } from '../../../controllers/hostconfig/steps/keys.js';
import { DECRYPT_KEY_SECRET, decryptKey, SHARED_KEY_ANNOTATION } from '../../../controllers/wallet/keys.js';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import {
  blockhostTypes,
  HOST_CONFIG_NAME,
  hostConfigSchema,
  type HostConfig,
  type Subscription,
} from '../../../lib/api/v1alpha1/index.js';
import { decryptUserSignature, encryptUserSignature, signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { updateStatus } from '../../../lib/runtime/status.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import {
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  testClient,
  withHostConfigClaimWait,
} from '../../harness/kube.js';

type Secret = KubeObject & { data: Record<string, string> };

describe('key roles on a single-key host and a new one', () => {
  let kube: KubeClient;
  let chain: LocalChain;
  let release: () => Promise<void>;
  const namespaces: string[] = [];
  const log = createLogger('key-migration');
  const signature = signMessage(anvilPrivateKey(1), 'blockhost-access');
  const owner = anvilPrivateKey(0); // deployed the contracts: their owner

  beforeAll(async () => {
    kube = testClient();
    release = await claimHostConfig(kube);
    chain = await startLocalChain();
    // The HostConfig as a host set up before the split has it: contracts in use, the server key's
    // address and public key in the status (written by the controller then).
    const host = structuredClone(exampleHostConfig) as HostConfig;
    host.spec.chain = {
      ...host.spec.chain,
      chainId: chain.anvil.chainId,
      rpcEndpoints: [chain.anvil.rpcUrl],
      confirmations: 1,
      deploy: false,
      contracts: {
        subscriptions: chain.deployment.subscriptions,
        nft: chain.deployment.nft,
        startBlock: Number(chain.deployment.deployBlock),
      },
    };
    await kube.create(blockhostTypes.hostConfig, host);
    await updateStatus<HostConfig>(kube, blockhostTypes.hostConfig, { name: HOST_CONFIG_NAME }, (latest) => {
      latest.status = {
        serverAddress: anvilAccount(0).address,
        serverPublicKey: decryptKey(owner).publicKey,
      };
    });
  }, withHostConfigClaimWait(120_000));

  afterAll(async () => {
    await chain?.stop();
    for (const namespace of namespaces) await deleteNamespace(kube, namespace);
    await release?.();
  });

  const namespace = async (name: string) => {
    const created = await createTestNamespace(kube, name);
    namespaces.push(created);
    return created;
  };
  const storeKey = (ns: string, name: string, key: string) =>
    kube.create(coreTypes.secret, {
      metadata: { name, namespace: ns },
      stringData: { privateKey: key },
    } as KubeObject);
  /** KeysReady on the stored HostConfig, as the controller runs it. */
  const runKeys = async (state: string) => {
    const host = hostConfigSchema.parse(
      await kube.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME),
    ) as HostConfig;
    host.spec.chain.serverWallet = { secretRef: { name: 'blockhost-server-wallet' }, generate: false };
    const context = { host, kube, namespace: state, chain: { namespace: state }, log, state: {} };
    return keysStep(context as unknown as SetupContext);
  };
  const purchase = async (publicKey: string) =>
    (await chain.buy(1, { userEncrypted: encryptUserSignature(publicKey, signature) as Hex })).subscriptionId;
  const resolved = async (state: string): Promise<ChainContext> => {
    const result = await resolveChainContext(kube, state);
    if ('notReady' in result) throw new Error(result.notReady);
    return result.context;
  };
  /** A mint through the deployer's transaction sender: owner-only on the NFT contract. */
  const mint = async (services: ChainServices, context: ChainContext, subscriptionId: bigint) => {
    const data = encodeFunctionData({
      abi: AccessCredentialNFTAbi,
      functionName: 'mintForSubscription',
      args: [subscriptionId, anvilAccount(1).address, '0x'],
    });
    const { receipt } = await services
      .sender(context)
      .send(`key-migration-mint:${subscriptionId}`, { to: context.contracts.nft, data });
    return receipt.status;
  };

  it('a single-key host keeps its key for both roles: earlier and later purchases decrypt, mints succeed', async () => {
    const state = await namespace('keys-upgrade');
    await storeKey(state, 'blockhost-server-wallet', owner);
    const before = await purchase(decryptKey(owner).publicKey);
    // The upgraded controller before KeysReady ran: no decrypt key yet, so nothing is decrypted.
    await expect(resolveChainContext(kube, state)).resolves.toEqual({
      notReady: `Secret ${state}/${DECRYPT_KEY_SECRET} does not exist yet`,
    });

    const keys = await runKeys(state);
    expect(keys).toMatchObject({
      ready: true,
      status: { serverAddress: anvilAccount(0).address, serverPublicKey: decryptKey(owner).publicKey },
    });
    const secret = await kube.get<Secret>(coreTypes.secret, DECRYPT_KEY_SECRET, state);
    expect(secret.metadata.annotations?.[SHARED_KEY_ANNOTATION]).toBe('true');

    const after = await purchase(keys.status!.serverPublicKey!);
    const context = await resolved(state);
    expect(context.deployer.address).toBe(anvilAccount(0).address);
    expect(context.decrypt.publicKey).toBe(decryptKey(owner).publicKey);
    for (const id of [before, after])
      expect(decryptUserSignature(context.decrypt.privateKey, await userEncrypted(id))).toBe(signature);

    // The watcher flags what its decrypt key cannot open: neither purchase is flagged.
    await chain.anvil.mine(2);
    const subscriptions = await namespace('keys-upgrade-subs');
    await new ChainWatcher(
      kube,
      { ...context, namespace: subscriptions, stateNamespace: state },
      log,
    ).catchUp();
    const stored = (await kube.list<Subscription>(blockhostTypes.subscription, { namespace: subscriptions }))
      .items;
    for (const id of [before, after]) {
      const subscription = stored.find((s) => s.spec.subscriptionId === String(id));
      expect(subscription).toBeDefined();
      expect(subscription?.spec.payloadError).toBeUndefined();
    }

    const services = new ChainServices(kube, subscriptions, log, undefined, undefined, state);
    try {
      expect(await mint(services, context, before)).toBe('success');
      expect(await mint(services, context, after)).toBe('success');
    } finally {
      services.closeSenders();
    }
  });

  it('a new host decrypts with its own decrypt key, not the deployer key, and still mints', async () => {
    const state = await namespace('keys-new');
    await storeKey(state, 'blockhost-server-wallet', owner);
    // A new host: nothing published yet.
    await updateStatus<HostConfig>(kube, blockhostTypes.hostConfig, { name: HOST_CONFIG_NAME }, (latest) => {
      latest.status = {};
    });
    const keys = await runKeys(state);
    expect(keys).toMatchObject({ ready: true, status: { serverAddress: anvilAccount(0).address } });
    const published = keys.status!.serverPublicKey!;
    expect(published).not.toBe(decryptKey(owner).publicKey);

    const context = await resolved(state);
    expect(context.decrypt.address).not.toBe(context.deployer.address);
    const id = await purchase(published);
    expect(decryptUserSignature(context.decrypt.privateKey, await userEncrypted(id))).toBe(signature);
    // A purchase encrypted to the deployer (a stale signup page) is not one this host can open.
    const stale = await purchase(decryptKey(owner).publicKey);
    const staleBlob = await userEncrypted(stale);
    expect(() => decryptUserSignature(context.decrypt.privateKey, staleBlob)).toThrow(/decrypt/i);

    const services = new ChainServices(kube, state, log, undefined, undefined, state);
    try {
      expect(await mint(services, context, id)).toBe('success');
    } finally {
      services.closeSenders();
    }

    // The deployer key copied into the decrypt Secret by hand: the chain context refuses both.
    await kube.delete(coreTypes.secret, DECRYPT_KEY_SECRET, state);
    await storeKey(state, DECRYPT_KEY_SECRET, owner);
    const refused = await resolveChainContext(kube, state);
    expect(refused).toEqual({ notReady: expect.stringMatching(/holds the deployer key/) });
  });

  /** A purchase's userEncrypted, from its SubscriptionCreated event. */
  const userEncrypted = async (id: bigint): Promise<Hex> => {
    const logs = await chain.publicClient.getContractEvents({
      address: chain.deployment.subscriptions,
      abi: BlockhostSubscriptionsAbi,
      eventName: 'SubscriptionCreated',
      args: { subscriptionId: id },
      fromBlock: chain.deployment.deployBlock,
    });
    return (logs[0]!.args as { userEncrypted: Hex }).userEncrypted;
  };
});
