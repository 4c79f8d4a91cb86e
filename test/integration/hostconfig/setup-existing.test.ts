// The setup pipeline with contracts that already exist (startLocalChain deploys them with anvil
// account 0, whose key is the server wallet) and a libvirt backend on the real libvirtd; then bad
// inputs — no code at an address, a broken bridge, a malformed key — each turn their step's condition
// False with a message naming the field, and send nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { getAddress, type Address, type Hex } from 'viem';
import { compileContracts } from '../../../contracts/compile.js';
import { AccessCredentialNFTAbi } from '../../../contracts/generated/artifacts.js';
import { blockhostTypes, HOST_CONFIG_NAME } from '../../../lib/api/v1alpha1/index.js';
import { decryptConnectionDetails } from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { exampleHostConfig } from '../../../lib/api/v1alpha1/examples.js';
import { anvilAccount } from '../../harness/chain/anvil.js';
import { LOCAL_HOSTNAME, useLocalChain } from '../../harness/chain/host-config.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import {
  claimHostConfig,
  withHostConfigClaimWait,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
} from '../../harness/kube.js';
import { LibvirtEnvironment } from '../../harness/libvirt/environment.js';
import { repoDir } from '../../harness/install/scripts.js';
import {
  condition,
  readHost,
  requestRetry,
  serverWalletKey,
  startControllers,
  waitForCondition,
} from './support.js';

describe('setup pipeline: existing contracts', () => {
  let kube: KubeClient;
  let namespace: string;
  let chain: LocalChain;
  let libvirt: LibvirtEnvironment;
  let release: () => Promise<void>;
  let stop: (() => Promise<void>) | undefined;
  const server = anvilAccount(0).address;
  const nonce = () => chain.publicClient.getTransactionCount({ address: server });
  const patchSpec = (spec: object) =>
    kube.patch(blockhostTypes.hostConfig, HOST_CONFIG_NAME, undefined, { spec }, 'merge');

  beforeAll(async () => {
    kube = testClient();
    release = await claimHostConfig(kube);
    namespace = await createTestNamespace(kube, 'setup-existing');
    chain = await startLocalChain({ plans: [] });
    libvirt = await LibvirtEnvironment.start();
    await useLocalChain(
      kube,
      namespace,
      chain,
      {},
      {
        backend: { type: 'libvirt', libvirt: libvirt.settings },
        ipv4Pool: libvirt.ipv4Pool,
      },
    );
    stop = startControllers(kube, namespace, 'setup-existing-test');
  }, withHostConfigClaimWait(120_000));

  afterAll(async () => {
    await stop?.();
    if (namespace) await deleteNamespace(kube, namespace);
    await chain?.stop();
    await libvirt?.stop();
    await release?.();
  }, 120_000);

  it('verifies the contracts, adopts their stablecoin and mints the admin credential', async () => {
    expect((await waitForCondition(kube, 'KeysReady', 'True')).message).toContain(server);
    const contracts = await waitForCondition(kube, 'ContractsReady', 'True');
    expect(contracts.reason).toBe('ContractsVerified');
    const minted = await waitForCondition(kube, 'AdminCredentialMinted', 'True');
    const host = await readHost(kube);
    expect(host.status?.contracts).toEqual({
      subscriptions: chain.deployment.subscriptions,
      nft: chain.deployment.nft,
      stablecoin: chain.deployment.stablecoin,
      startBlock: Number(chain.deployment.deployBlock),
    });
    expect(host.status?.serverAddress).toBe(server);
    expect(minted.message).toContain(exampleHostConfig.spec.admin.wallet);
    expect(await chain.readNft<bigint>('totalSupply')).toBe(1n);
    expect(await chain.readNft<Address>('ownerOf', [0n])).toBe(exampleHostConfig.spec.admin.wallet);
    const data = await chain.readNft<`0x${string}`>('getUserEncrypted', [0n]);
    expect(decryptConnectionDetails(exampleHostConfig.spec.admin.signature, data).hostname).toBe(
      LOCAL_HOSTNAME,
    );
  });

  it('checks the libvirt backend: pool and bridge exist; a missing bridge is named', async () => {
    expect((await waitForCondition(kube, 'BackendReady', 'True')).reason).toBe('BackendReachable');
    await patchSpec({ backend: { libvirt: { bridge: 'bhmissing0' } } });
    const backend = await waitForCondition(kube, 'BackendReady', 'False', 'BridgeMissing');
    expect(backend.message).toContain('bridge "bhmissing0" (backend.libvirt.bridge)');
    await patchSpec({ backend: { libvirt: { bridge: libvirt.bridge } } });
    await waitForCondition(kube, 'BackendReady', 'True');
  });

  it('never mints again when the admin moved the credential to another wallet', async () => {
    const admin = chain.wallet(1);
    await chain.publicClient.waitForTransactionReceipt({
      hash: await admin.writeContract({
        address: chain.deployment.nft,
        abi: AccessCredentialNFTAbi,
        functionName: 'transferFrom',
        args: [admin.account.address, anvilAccount(5).address, 0n],
      }),
    });
    const before = await nonce();
    await requestRetry(kube);
    const holder = anvilAccount(5).address;
    await eventually(
      'the condition names the new holder',
      async () =>
        (await condition(kube, 'AdminCredentialMinted'))?.message.includes(`held by ${holder}`) ?? false,
    );
    const minted = await condition(kube, 'AdminCredentialMinted');
    expect(minted?.status).toBe('True');
    expect(minted?.message).toContain('(not spec.admin.wallet: admin rights follow the token)');
    expect(await chain.readNft<bigint>('totalSupply')).toBe(1n);
    expect(await nonce()).toBe(before);
  });

  it('names a contract address without code and sends nothing', async () => {
    const before = await nonce();
    const nowhere = `0x${'5a'.repeat(20)}`;
    await patchSpec({ chain: { contracts: { nft: nowhere } } });
    const contracts = await waitForCondition(kube, 'ContractsReady', 'False', 'NoContractCode');
    expect(contracts.message).toContain(`spec.chain.contracts.nft: there is no contract at ${nowhere}`);
    // What is in use stays recorded: the other controllers keep working on the verified contracts.
    expect((await readHost(kube)).status?.contracts?.nft).toBe(chain.deployment.nft);
    expect(await nonce()).toBe(before);
    await patchSpec({ chain: { contracts: { nft: chain.deployment.nft } } });
    await waitForCondition(kube, 'ContractsReady', 'True');
  });

  it("refuses the original BlockHost's NFT contract (no exactly-once mint) and sends nothing", async () => {
    const { contracts } = await compileContracts(join(repoDir, 'test/fixtures/original-contracts'));
    const original = contracts.find((c) => c.name === 'OriginalAccessCredentialNFT')!;
    const hash = await chain.deployer.deployContract({
      abi: original.abi,
      bytecode: original.bytecode,
      args: ['BlockhostAccess', 'BHA'],
    });
    const { contractAddress } = await chain.publicClient.waitForTransactionReceipt({ hash: hash as Hex });
    const before = await nonce();
    await patchSpec({ chain: { contracts: { nft: contractAddress } } });
    const refused = await waitForCondition(kube, 'ContractsReady', 'False', 'UnsupportedContract');
    expect(refused.message).toContain(
      `spec.chain.contracts.nft: ${getAddress(contractAddress!)} has no getSubscriptionToken(uint256): an AccessCredentialNFT of the original BlockHost`,
    );
    expect(refused.message).toContain('remove spec.chain.contracts.nft to deploy a current one');
    expect((await readHost(kube)).status?.contracts?.nft).toBe(chain.deployment.nft);
    expect(await nonce()).toBe(before);
    await patchSpec({ chain: { contracts: { nft: chain.deployment.nft } } });
    await waitForCondition(kube, 'ContractsReady', 'True');
  }, 120_000);

  it('refuses a malformed key without echoing it, and later steps wait for it', async () => {
    const secret = await kube.get<KubeObject & { data: Record<string, string> }>(
      coreTypes.secret,
      'blockhost-server-wallet',
      namespace,
    );
    secret.data = { privateKey: Buffer.from('0xnot-a-private-key').toString('base64') };
    await kube.update(coreTypes.secret, secret);
    await requestRetry(kube);
    const keys = await waitForCondition(kube, 'KeysReady', 'False', 'InvalidKey');
    expect(keys.message).toContain(`Secret ${namespace}/blockhost-server-wallet key "privateKey"`);
    expect(keys.message).not.toContain('not-a-private-key');
    expect((await condition(kube, 'ContractsReady'))?.reason).toBe('WaitingForKeys');
    expect((await condition(kube, 'Ready'))?.status).toBe('False');
    // The malformed Secret is kept as it is (it might be a typo in a funded key), never replaced.
    expect(await serverWalletKey(kube, namespace)).toBe('0xnot-a-private-key');
  });
});
