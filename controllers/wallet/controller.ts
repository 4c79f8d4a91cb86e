import { BaseError, ContractFunctionRevertedError, encodeFunctionData, erc20Abi, getAddress } from 'viem';
import type { Address, Hex, PublicClient } from 'viem';
import { BlockhostSubscriptionsAbi } from '../../contracts/generated/artifacts.js';
import { blockhostTypes, HOST_CONFIG_NAME, type HostConfig } from '../../lib/api/v1alpha1/index.js';
import { recoverAddress } from '../../lib/crypto/eip191.js';
import { isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import type { Logger } from '../../lib/log.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import type { ReconcileContext, Request } from '../../lib/runtime/controller.js';
import type { Manager } from '../../lib/runtime/manager.js';
import {
  parseWalletRequest,
  TERMINAL_PHASES,
  tokenOf,
  WALLET_REQUEST_ANNOTATIONS as A,
  WALLET_REQUEST_LABEL,
  walletRequestHash,
  walletRequestName,
  type WalletRequest,
  type WalletRequestPhase,
} from '../../lib/wallet-request/message.js';
import { ChainDisagreement } from '../../lib/chain/confirmed-read.js';
import { readCredentialHolder } from '../../lib/chain/credential-holder.js';
import { chainTrustRefusals } from '../../lib/chain/metrics.js';
import type { ChainContext } from '../chain/context.js';
import type { ChainServices } from '../chain/services.js';
import type { TxRequest } from '../chain/tx-sender.js';
import { WalletRequestMetrics } from './metrics.js';

export const WALLET_CONTROLLER = 'wallet-request';
const RETRY_WHEN_CHAIN_NOT_READY_MS = 30_000;

/** Test hook: a fault-injection test kills the process right after the broadcast, before recording. */
export type WalletRequestStep = 'walletRequestBroadcast';

export interface WalletRequestConfigMap extends KubeObject {
  data?: { message?: string; signature?: string };
}

/** A request that must not run: the reason is recorded and nothing is sent. */
class Refusal extends Error {}

/** The intent key: the message hash, so one signed request is one transaction, ever. */
export const walletRequestKey = (chainId: number, message: string): string =>
  `wallet-request:${chainId}:${walletRequestHash(message)}`;

/** Why a chain call would revert, in words (the custom error's name when the ABI knows it). */
function revertReason(error: unknown): string | undefined {
  if (!(error instanceof BaseError)) return undefined;
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
  if (reverted instanceof ContractFunctionRevertedError)
    return reverted.data?.errorName ?? reverted.reason ?? reverted.shortMessage;
  const text = error.shortMessage;
  return /revert|insufficient funds/i.test(text) ? text : undefined;
}

/**
 * Executes wallet requests (withdraw / send) the admin signed in the dashboard. The web server only
 * stores them (ConfigMaps labelled `blockhost.io/wallet-request=true`); nothing it writes is trusted:
 * the signature must recover to the holder of the admin credential NFT (ownerOf, confirmed on-chain),
 * the message must name this host, chain and contract, not be expired, and be stored under its own
 * hash. Each request is one transaction keyed by that hash, so a crash or a replay never pays twice.
 */
export function registerWalletRequestController(
  manager: Manager,
  chain: ChainServices,
  onStep?: (step: WalletRequestStep) => void,
): void {
  const { namespace } = chain;
  const cache = manager.informer<WalletRequestConfigMap>(coreTypes.configMap, {
    namespace,
    labelSelector: `${WALLET_REQUEST_LABEL}=true`,
  });
  const events = manager.eventRecorder(WALLET_CONTROLLER);
  const metrics = new WalletRequestMetrics(manager.metrics.registry);
  const refusals = chainTrustRefusals(manager.metrics.registry);

  const record = async (
    cm: WalletRequestConfigMap,
    phase: WalletRequestPhase,
    fields: { reason?: string; txHash?: string; signer?: string },
    action: string,
  ) => {
    await manager.client.patch(
      coreTypes.configMap,
      cm.metadata.name!,
      namespace,
      {
        metadata: {
          annotations: {
            [A.phase]: phase,
            ...(fields.reason !== undefined && { [A.reason]: fields.reason }),
            ...(fields.txHash && { [A.txHash]: fields.txHash }),
            ...(fields.signer && { [A.signer]: fields.signer }),
          },
        },
      },
      'merge',
    );
    if (TERMINAL_PHASES.includes(phase)) metrics.requests.inc({ action, outcome: phase });
  };

  const refuse = async (cm: WalletRequestConfigMap, reason: string, action: string, log: Logger) => {
    log.warn({ request: cm.metadata.name, reason }, 'wallet request refused; nothing sent');
    await record(cm, 'Refused', { reason }, action);
    await events.record(cm, coreTypes.configMap, 'Warning', 'WalletRequestRefused', 'Refuse', reason);
  };

  /** Every check that does not need the chain context's key; throws Refusal with the reason. */
  async function validate(
    cm: WalletRequestConfigMap,
    context: ChainContext,
  ): Promise<{ request: WalletRequest; signer: string; message: string }> {
    const message = cm.data?.message;
    const signature = cm.data?.signature;
    if (!message || !signature) throw new Refusal('the request has no message or no signature');
    if (walletRequestName(message) !== cm.metadata.name)
      throw new Refusal('the object is not named after its message hash (changed after it was stored?)');
    let request: WalletRequest;
    try {
      request = parseWalletRequest(message);
    } catch (error) {
      throw new Refusal(`malformed request: ${(error as Error).message}`);
    }
    let signer: string;
    try {
      signer = recoverAddress(message, signature);
    } catch (error) {
      throw new Refusal(`the signature is not valid: ${(error as Error).message}`);
    }
    const host = await manager.client.get<HostConfig>(blockhostTypes.hostConfig, HOST_CONFIG_NAME);
    const hostname = host.spec.signup?.hostname;
    if (hostname && request.host !== hostname)
      throw new Refusal(`the request is for host ${request.host}, this is ${hostname}`);
    if (request.chain !== context.chainId)
      throw new Refusal(`the request is for chain ${request.chain}, this host uses ${context.chainId}`);
    if (request.contract !== getAddress(context.contracts.subscriptions))
      throw new Refusal(`the request is for contract ${request.contract}, not this host's`);
    const expires = Date.parse(request.expires);
    if (!(expires > Date.now())) throw new Refusal(`the request expired at ${request.expires}`);
    const tokenId = BigInt(host.status?.adminCredentialTokenId ?? host.spec.admin.credentialTokenId);
    // At head - confirmations, agreed by a quorum of the endpoints: one lying endpoint (or a
    // transfer a reorg undoes) cannot make someone else the admin who may pay out.
    let holder: string | null;
    try {
      ({ value: holder } = await readCredentialHolder(
        context.endpoints.map((url) => chain.client({ chainId: context.chainId, endpoints: [url] })),
        context.confirmations,
        context.contracts.nft,
        tokenId,
      ));
    } catch (error) {
      if (!(error instanceof ChainDisagreement)) throw error;
      refusals.inc({ check: 'admin_holder' });
      throw new Refusal(`the admin credential holder is not confirmed: ${error.message}`);
    }
    if (holder !== getAddress(signer))
      throw new Refusal(
        `signed by ${signer}, which does not hold the admin credential NFT #${tokenId} (${holder ? `held by ${holder}` : 'not minted'} at the confirmed block)`,
      );
    return { request, signer, message };
  }

  /** The transaction of a request, after checking the balance it needs (a clear reason, not a revert). */
  async function transactionOf(
    request: WalletRequest,
    context: ChainContext,
    client: PublicClient,
  ): Promise<TxRequest> {
    const token = tokenOf(request);
    const balanceOf = (owner: Address) =>
      token
        ? client.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [owner] })
        : client.getBalance({ address: owner });
    if (request.action === 'withdraw') {
      if ((await balanceOf(context.contracts.subscriptions)) === 0n)
        throw new Refusal(`the subscriptions contract holds no ${request.token}: nothing to withdraw`);
      return {
        to: context.contracts.subscriptions,
        data: encodeFunctionData({
          abi: BlockhostSubscriptionsAbi,
          functionName: 'withdrawFunds',
          args: [token!, request.to as Address],
        }),
      };
    }
    const amount = BigInt(request.amount);
    const balance = await balanceOf(context.deployer.address);
    if (balance < amount)
      throw new Refusal(
        `the server wallet holds ${balance} base units of ${request.token}, less than the ${amount} requested`,
      );
    if (!token) return { to: request.to as Hex, data: '0x', value: amount };
    return {
      to: token,
      data: encodeFunctionData({
        abi: erc20Abi,
        functionName: 'transfer',
        args: [request.to as Address, amount],
      }),
    };
  }

  const describe = (r: WalletRequest) =>
    r.action === 'withdraw'
      ? `withdraw all ${r.token} from the subscriptions contract to ${r.to}`
      : `send ${r.amount} base units of ${r.token} to ${r.to}`;

  const reconcile = async ({ name }: Request, { log, signal }: ReconcileContext) => {
    if (!cache.get(`${namespace}/${name}`)) return;
    // The API's copy, not the cache's: our own last annotation must be seen, or an outcome is recorded twice.
    let cm: WalletRequestConfigMap;
    try {
      cm = await manager.client.get<WalletRequestConfigMap>(coreTypes.configMap, name, namespace);
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    if (cm.metadata.deletionTimestamp) return;
    const phase = cm.metadata.annotations?.[A.phase] as WalletRequestPhase | undefined;
    if (phase && TERMINAL_PHASES.includes(phase)) return;
    const resolved = await chain.context();
    if ('notReady' in resolved) {
      log.info({ reason: resolved.notReady }, 'wallet request waits for the chain');
      return { requeueAfterMs: RETRY_WHEN_CHAIN_NOT_READY_MS };
    }
    const { context } = resolved;
    const client = chain.client(context);
    const sender = chain.sender(context);
    const message = cm.data?.message ?? '';
    const key = walletRequestKey(context.chainId, message);
    const action = /\naction: (withdraw|send)\n/.exec(message)?.[1] ?? 'invalid';

    // Accepted before (Pending/Sent) and its transaction exists: the decision was made; only finish it.
    const submitted = message !== '' && (await sender.hasIntent(key));
    if (submitted && !phase) {
      // A fresh object whose transaction already exists: the same signed request stored again.
      return refuse(cm, 'this signed request was already executed; a request runs once', action, log);
    }
    if (!submitted) {
      let checked: Awaited<ReturnType<typeof validate>>;
      let tx: TxRequest;
      try {
        checked = await validate(cm, context);
        tx = await transactionOf(checked.request, context, client);
      } catch (error) {
        if (!(error instanceof Refusal)) throw error;
        return refuse(cm, error.message, action, log);
      }
      const { request, signer } = checked;
      await record(cm, 'Pending', { reason: '', signer }, action);
      let txHash: string | undefined;
      try {
        const intent = await sender.submit(key, tx);
        txHash = intent.attempts.at(-1)?.hash;
      } catch (error) {
        const reason = revertReason(error);
        if (!reason) throw error;
        // estimateGas reverted: the chain refuses it; no nonce was taken, nothing was sent.
        return refuse(cm, `the chain would revert it: ${reason}`, action, log);
      }
      onStep?.('walletRequestBroadcast');
      await record(cm, 'Sent', { txHash }, action);
      log.info(
        { request: name, admin: signer, key, tx: txHash },
        `wallet request sent: ${describe(request)}`,
      );
    }
    // After a crash (Pending/Sent with a stored transaction) this only waits: nothing is signed again.
    const outcome = await sender.wait(key, signal);
    const hash = outcome.receipt.transactionHash;
    if (outcome.receipt.status !== 'success') {
      await record(cm, 'Failed', { reason: `transaction ${hash} reverted`, txHash: hash }, action);
      await events.record(
        cm,
        coreTypes.configMap,
        'Warning',
        'WalletRequestFailed',
        'Execute',
        `transaction ${hash} reverted`,
      );
      return;
    }
    await record(cm, 'Confirmed', { reason: '', txHash: hash }, action);
    await events.record(
      cm,
      coreTypes.configMap,
      'Normal',
      'WalletRequestConfirmed',
      'Execute',
      `executed in transaction ${hash} (block ${outcome.receipt.blockNumber})`,
    );
    log.info({ request: name, tx: hash }, 'wallet request confirmed');
  };

  manager.addController<WalletRequestConfigMap>({
    name: WALLET_CONTROLLER,
    for: coreTypes.configMap,
    forOptions: { namespace, labelSelector: `${WALLET_REQUEST_LABEL}=true` },
    reconcile,
  });
}
