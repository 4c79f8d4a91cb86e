// Admin login is gated on ownerOf(admin credential): read one confirmation-depth deep and agreed
// by a quorum of the RPC endpoints. Real anvil behind RPC fault proxies, one of which lies that an
// attacker holds the NFT; the dashboard's own AdminHolder decides (the login route asks it).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AccessCredentialNFTAbi } from '../../../contracts/generated/artifacts.js';
import { AdminHolder } from '../../../web/admin/admin-holder.js';
import { ChainClients } from '../../../web/admin/chain-clients.js';
import type { AdminChain } from '../../../web/admin/host.js';
import { anvilAccount } from '../../harness/chain/anvil.js';
import { startLocalChain, type LocalChain } from '../../harness/chain/local-chain.js';
import { RpcFaultProxy } from '../../harness/chain/rpc-fault-proxy.js';
import { forgedOwner } from './lies.js';

const ADMIN = anvilAccount(1).address;
const ATTACKER = anvilAccount(9).address;
const CONFIRMATIONS = 2;

describe('admin holder against lying and unconfirmed RPC answers', () => {
  let chain: LocalChain;
  let liar: RpcFaultProxy;
  let honest: RpcFaultProxy[];
  // No cache: every check reads the chain again.
  const holder = new AdminHolder(new ChainClients(), () => Date.now(), 0);
  const adminChain = (endpoints: string[]): AdminChain => ({
    chainId: chain.anvil.chainId,
    endpoints,
    nft: chain.deployment.nft,
    credentialTokenId: 0n,
    confirmations: CONFIRMATIONS,
  });
  const write = async (wallet: number, functionName: 'mint' | 'transferFrom', args: readonly unknown[]) => {
    const hash = await (wallet === 0 ? chain.deployer : chain.wallet(wallet)).writeContract({
      address: chain.deployment.nft,
      abi: AccessCredentialNFTAbi,
      functionName,
      args,
    } as never);
    await chain.publicClient.waitForTransactionReceipt({ hash });
  };

  beforeAll(async () => {
    chain = await startLocalChain({ plans: [] });
    await write(0, 'mint', [ADMIN, '0x']); // token #0, as setup mints it
    await chain.anvil.mine(CONFIRMATIONS);
    liar = await RpcFaultProxy.start(chain.anvil.rpcUrl, { seed: 1 });
    liar.lie = forgedOwner(chain.deployment.nft, ATTACKER);
    honest = [
      await RpcFaultProxy.start(chain.anvil.rpcUrl, { seed: 2 }),
      await RpcFaultProxy.start(chain.anvil.rpcUrl, { seed: 3 }),
    ];
  }, 120_000);

  afterAll(async () => {
    for (const proxy of [liar, ...(honest ?? [])]) await proxy?.close();
    await chain?.stop();
  });

  it('one lying endpoint of three (listed first): the attacker is refused, the admin gets in', async () => {
    const endpoints = [liar.url, honest[0]!.url, honest[1]!.url];
    const liesBefore = liar.lies;
    await expect(holder.isAdmin(adminChain(endpoints), ATTACKER)).resolves.toBe(false);
    await expect(holder.isAdmin(adminChain(endpoints), ADMIN)).resolves.toBe(true);
    expect(liar.lies).toBeGreaterThan(liesBefore); // the liar was asked, and lied
  });

  it('one lying endpoint of two: nobody gets in, and the reason says the endpoints disagree', async () => {
    const chainOfTwo = adminChain([liar.url, honest[0]!.url]);
    for (const wallet of [ATTACKER, ADMIN]) {
      await expect(holder.isAdmin(chainOfTwo, wallet)).rejects.toMatchObject({
        statusCode: 503,
        message: expect.stringMatching(
          /admin credential holder cannot be confirmed: .*2 different answers .*2 of 2 endpoints must agree/,
        ),
      });
    }
  });

  it('one endpoint claiming a far head cannot move the confirmed block (one of three)', async () => {
    const endpoints = [liar.url, honest[0]!.url, honest[1]!.url];
    const ownerLie = liar.lie;
    // Far ahead: a read there would fail on the honest endpoints (no such block), or, taken as the
    // head, leave any recent transfer unconfirmed for ever.
    liar.lie = (request, result) =>
      request.method === 'eth_blockNumber' && typeof result === 'string'
        ? `0x${(BigInt(result) + 1_000_000n).toString(16)}`
        : ownerLie!(request, result);
    try {
      await expect(holder.isAdmin(adminChain(endpoints), ADMIN)).resolves.toBe(true);
    } finally {
      liar.lie = ownerLie;
    }
  });

  it('a transfer not yet confirmations deep does not move admin rights (one endpoint)', async () => {
    const single = adminChain([honest[0]!.url]);
    await write(1, 'transferFrom', [ADMIN, ATTACKER, 0n]);
    // The head already says ATTACKER; a reorg could still undo it.
    await expect(holder.isAdmin(single, ATTACKER)).resolves.toBe(false);
    await expect(holder.isAdmin(single, ADMIN)).resolves.toBe(true);
    await chain.anvil.mine(CONFIRMATIONS);
    await expect(holder.isAdmin(single, ATTACKER)).resolves.toBe(true);
  });
});
