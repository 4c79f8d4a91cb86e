import { describe, expect, it } from '@jest/globals';
import type { VM } from '../../lib/api/v1alpha1/index.js';
import { MintRefusedError } from '../chain/credential-minter.js';
import { explainFailure, vmFailure } from './failure.js';

const wallet = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
const nft = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const mint = (error: unknown) =>
  explainFailure({ kind: 'mint', error, subscriptionId: '7', chainId: 31337, wallet, nft });

/** viem's shape of a node's refusal: a generic top error, the node's words at the bottom. */
const rpcRejected = (nodeMessage: string) =>
  Object.assign(new Error('Transaction creation failed.'), {
    cause: Object.assign(new Error('RPC Request failed.'), { cause: { message: nodeMessage, code: -32003 } }),
  });

describe('explainFailure', () => {
  it.each([
    [
      'the server wallet is not the contract owner',
      new MintRefusedError(7n, `OwnableUnauthorizedAccount(${wallet})`),
      'MintRefused',
      [`transfer the contract's ownership to ${wallet}`, nft, 'chain 31337'],
    ],
    [
      'another contract error',
      new MintRefusedError(7n, 'SubscriptionAlreadyMinted(7, 3)'),
      'MintRefused',
      ['SubscriptionAlreadyMinted(7, 3)', 'subscription 7'],
    ],
    [
      'a revert without data',
      new MintRefusedError(7n, undefined),
      'MintRefused',
      ['reverts without a reason'],
    ],
    [
      'a mined transaction that reverted',
      new MintRefusedError(7n, undefined, `0x${'ab'.repeat(32)}`),
      'MintReverted',
      [`0x${'ab'.repeat(32)}`, 'inspect the transaction'],
    ],
    [
      'anvil: insufficient funds, deep in the cause chain',
      rpcRejected('Insufficient funds for gas * price + value'),
      'ServerWalletUnfunded',
      [`the server wallet ${wallet} on chain 31337`, `send ETH to ${wallet}`],
    ],
    [
      "viem's own balance check",
      Object.assign(new Error('long\ntext'), {
        shortMessage:
          'The total cost (gas * gas fee + value) of executing this transaction exceeds the balance of the account.',
      }),
      'ServerWalletUnfunded',
      [wallet],
    ],
    [
      'geth: estimation with an empty wallet',
      new Error('gas required exceeds allowance (0)'),
      'ServerWalletUnfunded',
      [wallet],
    ],
    [
      'a stored intent the sender refuses',
      Object.assign(new Error('refusing the stored transaction intent for mint:1: forged'), {
        name: 'UntrustedIntentError',
      }),
      'MintIntentRefused',
      ['refusing the stored transaction intent', 'remove or repair that intent'],
    ],
    [
      'an RPC outage',
      new Error('HTTP request failed.\n\nURL: http://rpc\nDetails: fetch failed'),
      'MintFailed',
      ['HTTP request failed.', 'retried with backoff'],
    ],
    ['a thrown string', 'boom', 'MintFailed', ['boom']],
  ])('%s → NFTMinted False, %s', (_, error, reason, phrases) => {
    const explained = mint(error);
    expect(explained).toMatchObject({ condition: 'NFTMinted', reason });
    for (const phrase of phrases) expect(explained.message).toContain(phrase);
    // Multi-line viem messages never reach the status: one line, bounded.
    expect(explained.message).not.toContain('\n');
    expect(explained.message.length).toBeLessThan(600);
  });

  it('gives the same message for the same failure, so repeated Events fold into one series', () => {
    expect(mint(rpcRejected('insufficient funds'))).toEqual(mint(rpcRejected('insufficient funds')));
  });

  it('says what any other reconcile error was, on one bounded line', () => {
    const explained = explainFailure({
      kind: 'reconcile',
      error: new Error(`the libvirt backend lists no images\n${'x'.repeat(1000)}`),
    });
    expect(explained).toEqual({
      condition: 'Ready',
      reason: 'ReconcileFailed',
      message:
        'the subscription controller failed: the libvirt backend lists no images (retried with backoff)',
    });
  });

  it("passes a VM's backend reason through, with where to look", () => {
    expect(
      explainFailure({
        kind: 'vm',
        vm: 'blockhost-007',
        reason: 'AddressInUse',
        message: '10.0.0.5 is taken',
      }),
    ).toEqual({
      condition: 'VMReady',
      reason: 'AddressInUse',
      message:
        'VM blockhost-007 reports AddressInUse: 10.0.0.5 is taken (the VM controller retries with backoff; see kubectl describe vm blockhost-007)',
    });
  });
});

describe('vmFailure', () => {
  const vm = (ready?: { status: 'True' | 'False'; reason: string }) =>
    ({
      metadata: { name: 'blockhost-007' },
      status: ready && {
        conditions: [{ type: 'Ready', ...ready, message: 'm', lastTransitionTime: '2026-01-01T00:00:00Z' }],
      },
    }) as unknown as VM;

  it.each([
    ['no status yet', vm(), undefined],
    ['on its way', vm({ status: 'False', reason: 'Reconciling' }), undefined],
    ['ready', vm({ status: 'True', reason: 'AsDesired' }), undefined],
    ['a backend error', vm({ status: 'False', reason: 'BackendError' }), 'BackendError'],
    ['an address conflict', vm({ status: 'False', reason: 'AddressInUse' }), 'AddressInUse'],
  ])('%s', (_, given, reason) => {
    expect(vmFailure(given)?.reason).toBe(reason);
  });
});
