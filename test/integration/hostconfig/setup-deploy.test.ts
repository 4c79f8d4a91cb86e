// The whole setup pipeline on a fresh chain (anvil with nothing but a mock stablecoin the test
// deploys): a wrong chain id and an unfunded generated server wallet stop it with clear conditions
// and nothing deployed; once fixed and funded (retry annotation), every step ends True: contracts
// deployed and owned by the server wallet, the admin NFT minted to the admin with connection details
// that decrypt with the admin's signature, the plan on-chain, the Proxmox backend reachable.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getContractAddress, parseEther, type Address, type Hex } from 'viem';
import { deployToken, startTestChain, type TestChain } from '../../../contracts/testing.js';
import { AccessCredentialNFTAbi, BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
import { exampleHostConfig, examplePlan } from '../../../lib/api/v1alpha1/examples.js';
import {
  API_VERSION,
  blockhostTypes,
  HOST_CONFIG_NAME,
  type HostConfigSpec,
  type Plan,
} from '../../../lib/api/v1alpha1/index.js';
import { addressFromPrivateKey, decryptConnectionDetails, signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import {
  claimHostConfig,
  withHostConfigClaimWait,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
} from '../../harness/kube.js';
import { DEFAULT_TOKEN, FakeProxmox } from '../../harness/proxmox/fake-pve.js';
import { proxmoxSettingsFor } from '../../harness/proxmox/settings.js';
import {
  condition,
  hostConfig,
  readHost,
  requestRetry,
  serverWalletKey,
  SIGNUP_HOSTNAME,
  startControllers,
  waitForCondition,
} from './support.js';

const TEMPLATE_VMID = 9000;

describe('setup pipeline: deploy on a fresh chain', () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: TestChain;
  let fake: FakeProxmox;
  let stablecoin: Address;
  let release: () => Promise<void>;
  let stop: (() => Promise<void>) | undefined;
  const admin = anvilAccount(1).address;
  const adminSignature = signMessage(anvilPrivateKey(1), 'blockhost-access');
  const planName = `setup-${Date.now().toString(36)}`;
  let server: Address;

  beforeAll(async () => {
    kube = testClient();
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'setup');
    chain = await startTestChain();
    stablecoin = await deployToken(chain, 'USDC', 6);
    fake = await FakeProxmox.start({ templates: [{ vmid: TEMPLATE_VMID, name: 'debian-12-cloud' }] });
    await kube.create(coreTypes.secret, {
      metadata: { name: 'pve-token', namespace },
      stringData: { tokenId: DEFAULT_TOKEN.tokenId, secret: DEFAULT_TOKEN.secret },
    } as KubeObject);
    // Deliberately the wrong chain id first: the RPC serves 31337.
    await kube.create(
      blockhostTypes.hostConfig,
      hostConfig(
        { chainId: 1, rpcEndpoints: [chain.anvil.rpcUrl], deploy: true, stablecoin },
        {
          admin: {
            ...exampleHostConfig.spec.admin,
            wallet: admin,
            signature: adminSignature,
          } as HostConfigSpec['admin'],
          ipv6: { mode: 'broker', brokerRegistry: `0x${'42'.repeat(20)}`, allocationSize: 64 },
          backend: {
            type: 'proxmox',
            proxmox: proxmoxSettingsFor(fake, TEMPLATE_VMID, {
              tokenSecretRef: { name: 'pve-token' },
              insecureSkipTLSVerify: true,
            }),
          },
        },
      ),
    );
    stop = startControllers(kube, namespace, 'setup-deploy-test');
  }, withHostConfigClaimWait(120_000));

  afterAll(async () => {
    await stop?.();
    await kube.delete(blockhostTypes.plan, planName).catch(() => undefined);
    if (namespace) await deleteNamespace(kube, namespace);
    await chain?.stop();
    await fake?.stop();
    await release?.();
  }, 120_000);

  it('generates the server key into the Secret and publishes its address and public key', async () => {
    const keys = await waitForCondition(kube, 'KeysReady', 'True');
    const host = await readHost(kube);
    server = host.status!.serverAddress as Address;
    const key = await serverWalletKey(kube, namespace);
    expect(key).toMatch(/^0x[0-9a-f]{64}$/);
    expect(addressFromPrivateKey(key)).toBe(server);
    expect(keys.message).toContain(server);
    expect(host.status?.serverPublicKey).toMatch(/^0x04[0-9a-f]{128}$/);
    const secret = await kube.get<KubeObject>(coreTypes.secret, 'blockhost-server-wallet', namespace);
    expect(secret.metadata.ownerReferences).toBeUndefined();
  });

  it('refuses a chain id the RPC does not serve, naming the field, and deploys nothing', async () => {
    const contracts = await waitForCondition(kube, 'ContractsReady', 'False', 'ChainIdMismatch');
    expect(contracts.message).toContain('spec.chain.chainId is 1');
    expect(contracts.message).toContain('31337');
    expect((await readHost(kube)).status?.message).toContain('ContractsReady');
    expect(await chain.publicClient.getTransactionCount({ address: server })).toBe(0);
  });

  it('reports an unfunded server wallet with its address and the balance needed', async () => {
    await kube.patch(
      blockhostTypes.hostConfig,
      HOST_CONFIG_NAME,
      undefined,
      { spec: { chain: { chainId: 31337 } } },
      'merge',
    );
    const contracts = await waitForCondition(kube, 'ContractsReady', 'False', 'InsufficientFunds');
    expect(contracts.message).toContain(`the server wallet ${server} holds 0 ETH`);
    expect(contracts.message).toMatch(/needs about [\d.]+ ETH/);
    expect(contracts.message).toContain(`send at least`);
    // Later steps say what they wait for; independent ones still report.
    expect((await condition(kube, 'AdminCredentialMinted'))?.reason).toBe('WaitingForContracts');
    expect((await condition(kube, 'BackendReady'))?.status).toBe('True');
    expect(await chain.publicClient.getTransactionCount({ address: server })).toBe(0);
  });

  it('deploys, wires the stablecoin and mints the admin credential once funded and retried', async () => {
    await chain.tx(chain.wallets[0]!.sendTransaction({ to: server, value: parseEther('10') }));
    await requestRetry(kube);
    await waitForCondition(kube, 'ContractsReady', 'True', 'ContractsDeployed');
    await waitForCondition(kube, 'AdminCredentialMinted', 'True', 'Minted');
    const host = await readHost(kube);
    const { nft, subscriptions } = host.status!.contracts! as { nft: Address; subscriptions: Address };
    // The deployments are the server wallet's first two transactions: the addresses follow from them.
    expect(nft).toBe(getContractAddress({ from: server, nonce: 0n }));
    expect(subscriptions).toBe(getContractAddress({ from: server, nonce: 1n }));
    for (const address of [nft, subscriptions])
      expect(await chain.publicClient.getCode({ address })).toMatch(/^0x[0-9a-f]{100,}/);
    const read = chain.publicClient.readContract;
    expect(await read({ address: nft, abi: AccessCredentialNFTAbi, functionName: 'owner' })).toBe(server);
    expect(
      await read({ address: subscriptions, abi: BlockhostSubscriptionsAbi, functionName: 'owner' }),
    ).toBe(server);
    expect(
      await read({
        address: subscriptions,
        abi: BlockhostSubscriptionsAbi,
        functionName: 'getPrimaryStablecoin',
      }),
    ).toBe(stablecoin);
    expect(host.status?.contracts?.stablecoin).toBe(stablecoin);
    const deployBlock = (await chain.publicClient.getTransactionReceipt({ hash: await firstTx(server) }))
      .blockNumber;
    expect(host.status?.contracts?.startBlock).toBe(Number(deployBlock));

    expect(host.status?.adminCredentialTokenId).toBe('0');
    expect(await read({ address: nft, abi: AccessCredentialNFTAbi, functionName: 'totalSupply' })).toBe(1n);
    expect(
      await read({ address: nft, abi: AccessCredentialNFTAbi, functionName: 'ownerOf', args: [0n] }),
    ).toBe(admin);
    const data = await read({
      address: nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'getUserEncrypted',
      args: [0n],
    });
    expect(decryptConnectionDetails(adminSignature, data)).toEqual({
      hostname: SIGNUP_HOSTNAME,
      port: 22,
      username: 'admin',
    });
    expect(() =>
      decryptConnectionDetails(signMessage(anvilPrivateKey(2), 'blockhost-access'), data),
    ).toThrow();
  });

  it('reports plans, the backend, the signup URL and IPv6, and becomes Ready with a Plan', async () => {
    expect((await condition(kube, 'PlansReady'))?.reason).toBe('NoPlans');
    await kube.create(blockhostTypes.plan, {
      apiVersion: API_VERSION,
      kind: 'Plan',
      metadata: { name: planName },
      spec: examplePlan.spec,
    } as Plan);
    const plans = await waitForCondition(kube, 'PlansReady', 'True');
    expect(plans.message).toContain(`${planName}=1`);
    const ready = await waitForCondition(kube, 'Ready', 'True');
    expect(ready.reason).toBe('SetupComplete');
    const host = await readHost(kube);
    expect(host.status?.signupUrl).toBe(`https://${SIGNUP_HOSTNAME}/`);
    expect((await condition(kube, 'SignupPublished'))?.reason).toBe('UrlAssigned');
    expect((await condition(kube, 'BackendReady'))?.reason).toBe('BackendReachable');
    // Broker leases do not exist yet: said plainly, not faked, and not blocking Ready.
    expect(host.status?.ipv6Prefix).toBeUndefined();
    expect(host.status?.message).toContain('IPv6 broker leases are not implemented yet');
    for (const c of host.status!.conditions!) expect(c.observedGeneration).toBe(host.metadata.generation);
    // setup transactions: two deployments, setPrimaryStablecoin, the admin mint; then createPlan.
    expect(await chain.publicClient.getTransactionCount({ address: server })).toBe(5);
  });

  it('records Events for the step transitions', async () => {
    const host = await readHost(kube);
    await eventually('events', async () => {
      const events = await kube.list<KubeObject & { reason?: string; regarding?: { uid?: string } }>(
        coreTypes.event,
        { namespace: 'default' },
      );
      const reasons = events.items.filter((e) => e.regarding?.uid === host.metadata.uid).map((e) => e.reason);
      return [
        'ChainIdMismatch',
        'InsufficientFunds',
        'RetryRequested',
        'ContractsDeployed',
        'Minted',
        'SetupComplete',
      ].every((reason) => reasons.includes(reason));
    });
  });

  /** The hash of `from`'s first transaction (nonce 0), found by scanning the few blocks anvil mined. */
  async function firstTx(from: Address): Promise<Hex> {
    const head = await chain.publicClient.getBlockNumber();
    for (let n = 0n; n <= head; n += 1n) {
      const block = await chain.publicClient.getBlock({ blockNumber: n, includeTransactions: true });
      const tx = block.transactions.find((t) => t.from.toLowerCase() === from.toLowerCase() && t.nonce === 0);
      if (tx) return tx.hash;
    }
    throw new Error(`no transaction of ${from} with nonce 0`);
  }
});
