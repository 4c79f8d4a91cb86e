// AccessCredentialNFT against a real anvil: ids from 0, the encrypted payload, idempotent
// per-subscription minting, transfers that keep the data, enumeration and owner-only guards.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { zeroAddress, type Address, type Hex } from 'viem';
import { deployed, eventArgs, NFT_NAME, NFT_SYMBOL, type SigningWalletClient } from './deploy.js';
import { AccessCredentialNFTAbi, AccessCredentialNFTBytecode } from './generated/artifacts.js';
import { deployToken, expectRevert, startTestChain, type TestChain } from './testing.js';

describe('AccessCredentialNFT', () => {
  let chain: TestChain;
  let owner: SigningWalletClient;
  let alice: SigningWalletClient;
  let bob: SigningWalletClient;
  let nft: { address: Address; abi: typeof AccessCredentialNFTAbi };

  const read = () => chain.publicClient;
  const mint = async (to: Address, data: Hex) => {
    const receipt = await chain.tx(owner.writeContract({ ...nft, functionName: 'mint', args: [to, data] }));
    return { ...eventArgs(AccessCredentialNFTAbi, 'CredentialMinted', receipt, nft.address), receipt };
  };
  const mintForSubscription = async (subscriptionId: bigint, to: Address, data: Hex) => {
    const receipt = await chain.tx(
      owner.writeContract({ ...nft, functionName: 'mintForSubscription', args: [subscriptionId, to, data] }),
    );
    return eventArgs(AccessCredentialNFTAbi, 'SubscriptionCredentialMinted', receipt, nft.address);
  };
  const userEncrypted = (tokenId: bigint) =>
    read().readContract({ ...nft, functionName: 'getUserEncrypted', args: [tokenId] });
  const ownerOf = (tokenId: bigint) =>
    read().readContract({ ...nft, functionName: 'ownerOf', args: [tokenId] });
  const subscriptionToken = (subscriptionId: bigint) =>
    read().readContract({ ...nft, functionName: 'getSubscriptionToken', args: [subscriptionId] });
  const totalSupply = () => read().readContract({ ...nft, functionName: 'totalSupply' });

  beforeAll(async () => {
    chain = await startTestChain();
    [owner, alice, bob] = chain.wallets as [SigningWalletClient, SigningWalletClient, SigningWalletClient];
  });
  afterAll(async () => chain?.stop());

  beforeEach(async () => {
    const hash = await owner.deployContract({
      abi: AccessCredentialNFTAbi,
      bytecode: AccessCredentialNFTBytecode,
      args: [NFT_NAME, NFT_SYMBOL],
    });
    nft = { address: (await deployed(chain.publicClient, hash)).address, abi: AccessCredentialNFTAbi };
  });

  it('is the ERC-721 "BlockhostAccess"/"BHA", enumerable, owned by the deployer', async () => {
    expect(await read().readContract({ ...nft, functionName: 'name' })).toBe('BlockhostAccess');
    expect(await read().readContract({ ...nft, functionName: 'symbol' })).toBe('BHA');
    expect(await read().readContract({ ...nft, functionName: 'owner' })).toBe(owner.account.address);
    for (const interfaceId of ['0x80ac58cd', '0x780e9d63', '0x01ffc9a7'] as const) {
      expect(
        await read().readContract({ ...nft, functionName: 'supportsInterface', args: [interfaceId] }),
      ).toBe(true);
    }
    expect(await totalSupply()).toBe(0n);
  });

  it('mints ids from 0 with the encrypted data and CredentialMinted + Transfer events', async () => {
    const admin = await mint(owner.account.address, '0xaa01');
    expect({ tokenId: admin.tokenId, recipient: admin.recipient }).toEqual({
      tokenId: 0n,
      recipient: owner.account.address,
    });
    expect(eventArgs(AccessCredentialNFTAbi, 'Transfer', admin.receipt, nft.address)).toEqual({
      from: zeroAddress,
      to: owner.account.address,
      tokenId: 0n,
    });
    expect((await mint(alice.account.address, '0xbb02')).tokenId).toBe(1n);
    expect(await ownerOf(0n)).toBe(owner.account.address);
    expect(await ownerOf(1n)).toBe(alice.account.address);
    expect(await userEncrypted(0n)).toBe('0xaa01');
    expect(await userEncrypted(1n)).toBe('0xbb02');
    expect(await totalSupply()).toBe(2n);
  });

  it('updates the encrypted data with CredentialUpdated', async () => {
    await mint(alice.account.address, '0x01');
    const receipt = await chain.tx(
      owner.writeContract({ ...nft, functionName: 'updateUserEncrypted', args: [0n, '0x0203'] }),
    );
    expect(eventArgs(AccessCredentialNFTAbi, 'CredentialUpdated', receipt, nft.address)).toEqual({
      tokenId: 0n,
    });
    expect(await userEncrypted(0n)).toBe('0x0203');
  });

  it('reverts on tokens that do not exist and on unsafe recipients', async () => {
    await expectRevert(userEncrypted(0n), 'ERC721NonexistentToken', [0n]);
    await expectRevert(
      owner.writeContract({ ...nft, functionName: 'updateUserEncrypted', args: [5n, '0x01'] }),
      'ERC721NonexistentToken',
      [5n],
    );
    await expectRevert(
      owner.writeContract({ ...nft, functionName: 'mint', args: [zeroAddress, '0x'] }),
      'ERC721InvalidReceiver',
      [zeroAddress],
    );
    // A contract that cannot receive ERC-721 tokens (safe minting).
    const token = await deployToken(chain, 'NOPE', 6);
    await expectRevert(
      owner.writeContract({ ...nft, functionName: 'mintForSubscription', args: [1n, token, '0x'] }),
      'ERC721InvalidReceiver',
      [token],
    );
    expect(await subscriptionToken(1n)).toEqual([false, 0n]);
  });

  describe('mintForSubscription', () => {
    it('mints once per subscription, sharing the id counter with mint', async () => {
      expect((await mint(owner.account.address, '0xad')).tokenId).toBe(0n);
      expect(await mintForSubscription(7n, alice.account.address, '0x07')).toEqual({
        subscriptionId: 7n,
        tokenId: 1n,
        recipient: alice.account.address,
      });
      expect((await mint(bob.account.address, '0x08')).tokenId).toBe(2n);
      expect((await mintForSubscription(8n, bob.account.address, '0x09')).tokenId).toBe(3n);
      expect(await subscriptionToken(7n)).toEqual([true, 1n]);
      expect(await subscriptionToken(8n)).toEqual([true, 3n]);
      expect(await subscriptionToken(9n)).toEqual([false, 0n]);
      expect(await userEncrypted(1n)).toBe('0x07');
      expect(await ownerOf(1n)).toBe(alice.account.address);
    });

    it('emits CredentialMinted as well as SubscriptionCredentialMinted', async () => {
      const receipt = await chain.tx(
        owner.writeContract({
          ...nft,
          functionName: 'mintForSubscription',
          args: [1n, alice.account.address, '0x'],
        }),
      );
      expect(eventArgs(AccessCredentialNFTAbi, 'CredentialMinted', receipt, nft.address)).toEqual({
        tokenId: 0n,
        recipient: alice.account.address,
      });
      expect(eventArgs(AccessCredentialNFTAbi, 'SubscriptionCredentialMinted', receipt, nft.address)).toEqual(
        {
          subscriptionId: 1n,
          tokenId: 0n,
          recipient: alice.account.address,
        },
      );
    });

    it('refuses a second token for the same subscription, naming the first', async () => {
      await mint(owner.account.address, '0x');
      await mintForSubscription(42n, alice.account.address, '0x01');
      for (const to of [alice.account.address, bob.account.address]) {
        await expectRevert(
          owner.writeContract({ ...nft, functionName: 'mintForSubscription', args: [42n, to, '0x02'] }),
          'SubscriptionAlreadyMinted',
          [42n, 1n],
        );
      }
      expect(await totalSupply()).toBe(2n);
      expect(await userEncrypted(1n)).toBe('0x01');
      expect(await subscriptionToken(42n)).toEqual([true, 1n]);
    });
  });

  it('keeps the data and the subscription link when a token is transferred', async () => {
    await mintForSubscription(3n, alice.account.address, '0xdeadbeef');
    await chain.tx(
      alice.writeContract({
        ...nft,
        functionName: 'transferFrom',
        args: [alice.account.address, bob.account.address, 0n],
      }),
    );
    expect(await ownerOf(0n)).toBe(bob.account.address);
    expect(await userEncrypted(0n)).toBe('0xdeadbeef');
    expect(await subscriptionToken(3n)).toEqual([true, 0n]);
    await expectRevert(
      owner.writeContract({
        ...nft,
        functionName: 'mintForSubscription',
        args: [3n, alice.account.address, '0x'],
      }),
      'SubscriptionAlreadyMinted',
      [3n, 0n],
    );
  });

  it('enumerates tokens overall and per owner across transfers', async () => {
    await mint(owner.account.address, '0x');
    await mint(alice.account.address, '0x');
    await mintForSubscription(1n, alice.account.address, '0x');
    await mint(bob.account.address, '0x');
    await chain.tx(
      alice.writeContract({
        ...nft,
        functionName: 'safeTransferFrom',
        args: [alice.account.address, bob.account.address, 1n],
      }),
    );
    const tokensOf = async (address: Address) => {
      const balance = await read().readContract({ ...nft, functionName: 'balanceOf', args: [address] });
      const ids: bigint[] = [];
      for (let index = 0n; index < balance; index++) {
        ids.push(
          await read().readContract({ ...nft, functionName: 'tokenOfOwnerByIndex', args: [address, index] }),
        );
      }
      return ids;
    };
    expect(await totalSupply()).toBe(4n);
    const all = [];
    for (let index = 0n; index < 4n; index++) {
      all.push(await read().readContract({ ...nft, functionName: 'tokenByIndex', args: [index] }));
    }
    expect(all).toEqual([0n, 1n, 2n, 3n]);
    expect(await tokensOf(owner.account.address)).toEqual([0n]);
    // ERC721Enumerable moves the last token into the freed slot.
    expect(await tokensOf(alice.account.address)).toEqual([2n]);
    expect(await tokensOf(bob.account.address)).toEqual([3n, 1n]);
    await expectRevert(
      read().readContract({ ...nft, functionName: 'tokenOfOwnerByIndex', args: [owner.account.address, 1n] }),
      'ERC721OutOfBoundsIndex',
      [owner.account.address, 1n],
    );
  });

  it('lets only the owner mint and update', async () => {
    await mint(alice.account.address, '0x');
    const attempts = [
      () => alice.writeContract({ ...nft, functionName: 'mint', args: [alice.account.address, '0x'] }),
      () =>
        alice.writeContract({
          ...nft,
          functionName: 'mintForSubscription',
          args: [1n, alice.account.address, '0x'],
        }),
      () => alice.writeContract({ ...nft, functionName: 'updateUserEncrypted', args: [0n, '0x01'] }),
    ];
    for (const attempt of attempts) {
      await expectRevert(attempt(), 'OwnableUnauthorizedAccount', [alice.account.address]);
    }
    expect(await totalSupply()).toBe(1n);
  });
});
