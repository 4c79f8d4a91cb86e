// Payouts: a withdraw the dashboard stored runs only if its signer holds the admin credential NFT,
// read confirmations deep and agreed by a quorum of the RPC endpoints. Real control plane, anvil
// and controller manager (setup mints the admin NFT); the first endpoint is an RPC fault proxy that
// lies that an attacker holds the NFT (a failover client would ask it first).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { erc20Abi, getAddress, type Address } from 'viem';
import { MockERC20Abi } from '../../../contracts/generated/artifacts.js';
import { registerControllers } from '../../../controllers/setup.js';
import { blockhostTypes, HOST_CONFIG_NAME } from '../../../lib/api/v1alpha1/index.js';
import { signMessage } from '../../../lib/crypto/index.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import {
  formatWalletRequest,
  WALLET_REQUEST_ANNOTATIONS as A,
  WALLET_REQUEST_LABEL,
  walletRequestName,
} from '../../../lib/wallet-request/message.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import { adminCredentialMinted, LOCAL_HOSTNAME, useLocalChain } from '../../harness/chain/host-config.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import { RpcFaultProxy } from '../../harness/chain/rpc-fault-proxy.js';
import { InstantBackend, instantBackendFactory } from '../../harness/instant-backend.js';
import {
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
  withHostConfigClaimWait,
} from '../../harness/kube.js';
import { forgedOwner } from './lies.js';

const ADMIN = 1;
const ATTACKER = 9;
const CUSTOMER = 5;
const kube = testClient();

describe('payouts against lying RPC endpoints', () => {
  let namespace: string;
  let chain: LocalChain;
  let liar: RpcFaultProxy;
  let honest: RpcFaultProxy[];
  let manager: Manager;
  let running: Promise<unknown>;
  let release: () => Promise<void>;

  const usdcBalance = (owner: Address) =>
    chain.publicClient.readContract({
      address: chain.deployment.stablecoin,
      abi: erc20Abi,
      functionName: 'balanceOf',
      args: [owner],
    });
  const serverNonce = () => chain.publicClient.getTransactionCount({ address: anvilAccount(0).address });
  const useEndpoints = (endpoints: RpcFaultProxy[]) =>
    kube.patch(
      blockhostTypes.hostConfig,
      HOST_CONFIG_NAME,
      undefined,
      { spec: { chain: { rpcEndpoints: endpoints.map((p) => p.url) } } },
      'merge',
    );
  /** A withdraw of all USDC to the signer, signed by `account`, stored as the web server stores it. */
  async function withdraw(account: number): Promise<Record<string, string>> {
    const message = formatWalletRequest({
      host: LOCAL_HOSTNAME,
      chain: chain.anvil.chainId,
      contract: getAddress(chain.deployment.subscriptions),
      action: 'withdraw',
      token: getAddress(chain.deployment.stablecoin),
      amount: 'all',
      to: anvilAccount(account).address,
      nonce: Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32),
      expires: new Date(Date.now() + 9 * 60_000).toISOString(),
    });
    const name = walletRequestName(message);
    await kube.create(coreTypes.configMap, {
      metadata: { name, namespace, labels: { [WALLET_REQUEST_LABEL]: 'true' } },
      data: { message, signature: signMessage(anvilPrivateKey(account), message) },
    } as KubeObject);
    let notes: Record<string, string> = {};
    await eventually(
      `${name} finished`,
      async () => {
        notes = (await kube.get<KubeObject>(coreTypes.configMap, name, namespace)).metadata.annotations ?? {};
        return ['Confirmed', 'Refused', 'Failed'].includes(notes[A.phase] ?? '');
      },
      60_000,
    );
    return notes;
  }

  beforeAll(async () => {
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'chain-trust-pay');
    chain = await startLocalChain({ plans: [] });
    liar = await RpcFaultProxy.start(chain.anvil.rpcUrl, { seed: 21 });
    honest = [
      await RpcFaultProxy.start(chain.anvil.rpcUrl, { seed: 22 }),
      await RpcFaultProxy.start(chain.anvil.rpcUrl, { seed: 23 }),
    ];
    await useLocalChain(
      kube,
      namespace,
      chain,
      { confirmations: 1, rpcEndpoints: [liar, ...honest].map((p) => p.url) },
      { ipv6: { mode: 'none', allocationSize: 64 } },
    );
    const log = createLogger('chain-trust-payout-test');
    manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
    const backend = new InstantBackend();
    registerControllers(manager, {
      namespace,
      log,
      backendFactories: { [backend.type]: instantBackendFactory(backend) },
    });
    running = manager.start();
    await adminCredentialMinted(kube, 120_000);
    // A customer's payment in the contract: what a withdraw would pay out.
    const hash = await chain.wallet(CUSTOMER).writeContract({
      address: chain.deployment.stablecoin,
      abi: MockERC20Abi,
      functionName: 'transfer',
      args: [chain.deployment.subscriptions, 1_000_000n],
    });
    await chain.publicClient.waitForTransactionReceipt({ hash });
    liar.lie = forgedOwner(chain.deployment.nft, anvilAccount(ATTACKER).address);
  }, withHostConfigClaimWait(240_000));

  afterAll(async () => {
    manager?.stop();
    await running;
    for (const proxy of [liar, ...(honest ?? [])]) await proxy?.close();
    await chain?.stop();
    if (namespace) await deleteNamespace(kube, namespace).catch(() => undefined);
    await release?.();
  }, 120_000);

  it('one lying endpoint of three: the attacker is refused, nothing is sent', async () => {
    const [contract, nonce] = [await usdcBalance(chain.deployment.subscriptions), await serverNonce()];
    const liesBefore = liar.lies;
    const notes = await withdraw(ATTACKER);
    expect(notes[A.phase]).toBe('Refused');
    expect(notes[A.reason]).toMatch(
      new RegExp(
        `does not hold the admin credential NFT #0 \\(held by ${anvilAccount(ADMIN).address} at the confirmed block\\)`,
      ),
    );
    expect(liar.lies).toBeGreaterThan(liesBefore);
    expect(await usdcBalance(chain.deployment.subscriptions)).toBe(contract);
    expect(await serverNonce()).toBe(nonce);
  });

  it('one lying endpoint of two: no quorum, so neither the attacker nor the admin is paid', async () => {
    await useEndpoints([liar, honest[0]!]);
    const [contract, nonce] = [await usdcBalance(chain.deployment.subscriptions), await serverNonce()];
    for (const account of [ATTACKER, ADMIN]) {
      const notes = await withdraw(account);
      expect(notes[A.phase]).toBe('Refused');
      expect(notes[A.reason]).toMatch(
        /the admin credential holder is not confirmed: cannot confirm the holder of credential NFT #0: 2 different answers came back \(1 \/ 1\); 2 of 2 endpoints must agree/,
      );
    }
    expect(await usdcBalance(chain.deployment.subscriptions)).toBe(contract);
    expect(await serverNonce()).toBe(nonce);
  });

  it('the honest endpoints alone pay the admin (the check refuses lies, not payouts)', async () => {
    await useEndpoints(honest);
    const before = await usdcBalance(anvilAccount(ADMIN).address);
    const notes = await withdraw(ADMIN);
    expect(notes[A.phase]).toBe('Confirmed');
    expect(await usdcBalance(anvilAccount(ADMIN).address)).toBe(before + 1_000_000n);
  });
});
