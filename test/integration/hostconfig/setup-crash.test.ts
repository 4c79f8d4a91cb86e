// Fault injection: the controller manager (its own process, test/fixtures/controller-manager.ts) is
// SIGKILLed right after the first contract deployment was broadcast, then right after the admin mint
// was broadcast — both before anything was recorded in the HostConfig. A clean manager then finishes
// setup with exactly one deployment of each contract and exactly one admin NFT.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getContractAddress, type Address } from 'viem';
import { AccessCredentialNFTAbi } from '../../../contracts/generated/artifacts.js';
import { deployToken, startTestChain, type TestChain } from '../../../contracts/testing.js';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type HostConfigSpec } from '../../../lib/api/v1alpha1/index.js';
import { signMessage } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import type { HostConfigStep } from '../../../controllers/hostconfig/step.js';
import { anvilAccount, anvilPrivateKey } from '../../harness/chain/anvil.js';
import {
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  testClient,
  withHostConfigClaimWait,
} from '../../harness/kube.js';
import type { ManagedProcess } from '../../harness/processes.js';
import { hostConfig, readHost, waitForCondition } from './support.js';
import { startFixtureManager } from '../../fixtures/start-controller-manager.js';

describe('setup pipeline: crash recovery', () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: TestChain;
  let release: () => Promise<void>;
  let logDir: string;
  let manager: ManagedProcess | undefined;
  const server = anvilAccount(3).address;
  const admin = anvilAccount(1).address;
  const nonce = () => chain.publicClient.getTransactionCount({ address: server });
  const totalSupply = (nft: Address) =>
    chain.publicClient.readContract({
      address: nft,
      abi: AccessCredentialNFTAbi,
      functionName: 'totalSupply',
    });
  const nftAddress = getContractAddress({ from: server, nonce: 0n });

  /** The controller manager in a process of its own, killed by itself at `crashAt`. */
  const startManager = (crashAt: HostConfigStep | '' = ''): ManagedProcess => {
    manager = startFixtureManager(namespace, logDir, crashAt);
    return manager;
  };

  beforeAll(async () => {
    kube = testClient();
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'setup-crash');
    logDir = await mkdtemp(join(tmpdir(), 'setup-crash-'));
    chain = await startTestChain();
    const stablecoin = await deployToken(chain, 'USDC', 6);
    await kube.create(coreTypes.secret, {
      metadata: { name: 'blockhost-server-wallet', namespace },
      stringData: { privateKey: anvilPrivateKey(3) },
    } as KubeObject);
    await kube.create(
      blockhostTypes.hostConfig,
      hostConfig(
        { chainId: chain.anvil.chainId, rpcEndpoints: [chain.anvil.rpcUrl], deploy: true, stablecoin },
        {
          admin: {
            ...exampleHostConfig.spec.admin,
            wallet: admin,
            signature: signMessage(anvilPrivateKey(1), 'blockhost-access'),
          } as HostConfigSpec['admin'],
        },
      ),
    );
  }, withHostConfigClaimWait(120_000));

  afterAll(async () => {
    await manager?.stop();
    if (namespace) await deleteNamespace(kube, namespace);
    await chain?.stop();
    await release?.();
    if (logDir) await rm(logDir, { recursive: true, force: true });
  }, 120_000);

  it('a crash right after the deployment broadcast leaves one deployment and nothing recorded', async () => {
    expect(await startManager('deployBroadcast').exited).toBe('SIGKILL');
    expect(await nonce()).toBe(1);
    expect(await chain.publicClient.getCode({ address: nftAddress })).toMatch(/^0x[0-9a-f]{100,}/);
    expect((await readHost(kube)).status?.contracts).toBeUndefined();
  }, 120_000);

  it('the next manager adopts it, finishes the contracts, and a crash right after the mint broadcast leaves one NFT', async () => {
    expect(await startManager('adminMintBroadcast').exited).toBe('SIGKILL');
    // Subscriptions deployment and setPrimaryStablecoin, then the mint: nothing sent twice.
    expect(await nonce()).toBe(4);
    const host = await readHost(kube);
    expect(host.status?.contracts?.nft).toBe(nftAddress);
    expect(host.status?.contracts?.subscriptions).toBe(getContractAddress({ from: server, nonce: 1n }));
    expect(host.status?.adminCredentialTokenId).toBeUndefined();
    expect(await totalSupply(nftAddress)).toBe(1n);
  }, 120_000);

  it('a clean manager finishes setup without sending anything again', async () => {
    startManager();
    await waitForCondition(kube, 'AdminCredentialMinted', 'True', 'Minted');
    await waitForCondition(kube, 'ContractsReady', 'True', 'ContractsDeployed');
    expect((await readHost(kube)).status?.adminCredentialTokenId).toBe('0');
    expect(await totalSupply(nftAddress)).toBe(1n);
    expect(
      await chain.publicClient.readContract({
        address: nftAddress,
        abi: AccessCredentialNFTAbi,
        functionName: 'ownerOf',
        args: [0n],
      }),
    ).toBe(admin);
    expect(await nonce()).toBe(4);
    await manager!.stop();
  }, 120_000);
});
