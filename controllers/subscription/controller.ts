import { isDeepStrictEqual } from 'node:util';
import type { Address, Hex } from 'viem';
import {
  API_VERSION,
  blockhostTypes,
  HOST_CONFIG_NAME,
  loginWalletOf,
  type HostConfig,
  type Plan,
  type Subscription,
  type VM,
} from '../../lib/api/v1alpha1/index.js';
import { decryptUserSignature, encryptConnectionDetails } from '../../lib/crypto/index.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../lib/kube/errors.js';
import { setCondition, type ConditionUpdate } from '../../lib/runtime/conditions.js';
import type { Request, ReconcileContext, ReconcileResult } from '../../lib/runtime/controller.js';
import type { Manager } from '../../lib/runtime/manager.js';
import { setControllerReference } from '../../lib/runtime/owners.js';
import { CachedReader } from '../../lib/runtime/cached-reader.js';
import { updateStatus } from '../../lib/runtime/status.js';
import { CredentialMinter } from '../chain/credential-minter.js';
import { CredentialUpdater } from '../chain/credential-updater.js';
import type { ChainContext } from '../chain/context.js';
import type { ChainServices } from '../chain/services.js';
import { chainTrustRefusals, serverWalletUnfunded } from '../../lib/chain/metrics.js';
import { blockTimeAheadSummary, DEFAULT_MAX_BLOCK_TIME_AHEAD_MS } from '../chain/chain-clock.js';
import { confirmLifecycle } from './confirmed-lifecycle.js';
import { connectionDetailsStep, explainUpdateFailure } from './connection-details.js';
import { explainFailure, vmFailure, type Explained } from './failure.js';
import { lifecycle } from './lifecycle.js';

export const SUBSCRIPTION_CONTROLLER = 'subscription';
const LOGIN_USER = 'admin';
const SSH_PORT = 22;
const RETRY_LATER_MS = 60_000;
/** Expiry is acted on within a minute even if a timer was lost; never sleep longer than this. */
const MAX_SLEEP_MS = 60_000;
/** An expiry the chain does not confirm yet is looked at again this soon (RPC reads, no API calls). */
const CONFIRM_RETRY_MS = 15_000;

type Status = NonNullable<Subscription['status']>;

/** The address the customer connects to, once the VM runs and its guest agent answers. */
const reachableAddress = (vm: VM): string | undefined =>
  vm.status?.phase === 'Running' && vm.status.guestAgentConnected
    ? (vm.status.addresses?.ipv6 ?? vm.status.addresses?.ipv4)
    : undefined;

/** Conditions that say a chain answer was not believed (docs/chain-trust.md). */
const TRUST_CONDITIONS = new Set(['ChainTimeTrusted', 'ExpiryConfirmed']);

/** The reasons lifecycle gives when an operator's hold overrides the chain. */
const isHeld = (reason: string | undefined) => reason === 'Held' || reason === 'HeldFromRemoval';

interface Outcome {
  phase: NonNullable<Status['phase']>;
  reason: string;
  message: string;
  conditions?: ConditionUpdate[];
  vmRef?: string;
  nft?: Status['nft'];
  /** Something failed (reason and message say what): Ready=False and a Warning Event. */
  failed?: boolean;
}

export interface SubscriptionControllerOptions {
  /** Overrides the chain clock; tests move it to expiry without waiting days. */
  now?: () => number;
}

/**
 * Drives one subscription from purchase to end: decrypt the buyer's payload with the server key →
 * create the VM (owned by the Subscription, sized by its Plan) → once it runs and its guest agent
 * answers, encrypt the connection details to the buyer's signature and mint the NFT exactly once →
 * Active. At the on-chain expiry the VM is stopped (disk kept); after the grace period, or on
 * cancellation, it is deleted. Every decision comes from stored, confirmed chain facts.
 */
export function registerSubscriptionController(
  manager: Manager,
  chain: ChainServices,
  options: SubscriptionControllerOptions = {},
): void {
  // Only the chain watcher's namespace: a Subscription anyone creates elsewhere provisions nothing.
  const watched = { namespace: chain.namespace };
  const subscriptions = manager.informer<Subscription>(blockhostTypes.subscription, watched);
  // Status is read from the cache (most reconciles change nothing and then cost no request).
  const statusReader = new CachedReader(manager.client, subscriptions);
  const vms = manager.informer<VM>(blockhostTypes.vm);
  const plans = manager.informer<Plan>(blockhostTypes.plan);
  const hosts = manager.informer<HostConfig>(blockhostTypes.hostConfig);
  const events = manager.eventRecorder(SUBSCRIPTION_CONTROLLER);
  const kube = manager.client;
  const refusals = chainTrustRefusals(manager.metrics.registry);
  const unfunded = serverWalletUnfunded(manager.metrics.registry);
  /** The clock refusal last counted, so each refused read counts once however many reconciles see it. */
  let countedRefusal: object | undefined;

  const planFor = (subscription: Subscription) =>
    plans
      .list()
      .find(
        (p) =>
          p.status?.onChainPlanId === subscription.spec.planId &&
          p.status.chainId === subscription.spec.chainId,
      );

  async function record(subscription: Subscription, outcome: Outcome): Promise<void> {
    const before = subscription.status?.phase;
    const { name, namespace } = subscription.metadata;
    await updateStatus<Subscription>(
      kube,
      blockhostTypes.subscription,
      { name: name!, namespace },
      (latest) => {
        let conditions = latest.status?.conditions;
        for (const c of outcome.conditions ?? [])
          conditions = setCondition(conditions, { ...c, observedGeneration: latest.metadata.generation });
        // Active but held: paid for, yet the customer cannot use it.
        const ready = outcome.phase === 'Active' && outcome.reason !== 'Held' && !outcome.failed;
        conditions = setCondition(conditions, {
          type: 'Ready',
          status: ready ? 'True' : 'False',
          reason: outcome.reason,
          message: outcome.message,
          observedGeneration: latest.metadata.generation,
        });
        const next = {
          ...latest.status,
          phase: outcome.phase,
          reason: outcome.reason,
          message: outcome.message,
          conditions,
          observedGeneration: latest.metadata.generation,
          ...(outcome.vmRef !== undefined && { vmRef: { name: outcome.vmRef } }),
          ...(outcome.nft !== undefined && { nft: outcome.nft }),
        };
        // Most reconciles (timers, VM updates) change nothing: skip the write.
        if (isDeepStrictEqual(next, latest.status)) return false;
        latest.status = next;
      },
      { reader: statusReader },
    ).catch((error: unknown) => {
      // Deleted while we worked (its namespace is going away): nothing left to record.
      if (!isNotFound(error)) throw error;
    });
    // A chain answer refused (ChainTimeTrusted, ExpiryConfirmed turning False) is worth a look.
    for (const c of outcome.conditions ?? []) {
      if (!TRUST_CONDITIONS.has(c.type) || c.status !== 'False') continue;
      const was = subscription.status?.conditions?.find((p) => p.type === c.type);
      if (was?.status === 'False' && was.reason === c.reason) continue;
      await events.record(
        subscription,
        blockhostTypes.subscription,
        'Warning',
        c.reason,
        'ConfirmChain',
        c.message ?? '',
      );
    }
    // Every failed reconcile: the recorder folds repeats of one message into a single Event's series.
    if (outcome.failed)
      await events.record(
        subscription,
        blockhostTypes.subscription,
        'Warning',
        outcome.reason,
        'Provision',
        outcome.message,
      );
    // A hold that changes what the controller does gets its Event even if the phase stays.
    if (before !== outcome.phase || isHeld(subscription.status?.reason) !== isHeld(outcome.reason)) {
      await events.record(
        subscription,
        blockhostTypes.subscription,
        outcome.phase === 'Failed' ? 'Warning' : 'Normal',
        outcome.reason,
        outcome.phase,
        outcome.message,
      );
    }
  }

  const failed = (reason: string, message: string): Outcome => ({ phase: 'Failed', reason, message });
  /** A failure the controller keeps retrying: the phase stays, reason and conditions say what is wrong. */
  const failing = (
    phase: Outcome['phase'],
    explained: Explained,
    rest: Pick<Outcome, 'vmRef' | 'conditions'>,
  ): Outcome => ({
    phase,
    reason: explained.reason,
    message: explained.message,
    failed: true,
    ...rest,
    conditions: [
      ...(rest.conditions ?? []),
      { type: explained.condition, status: 'False', reason: explained.reason, message: explained.message },
    ],
  });

  async function ensureVm(
    subscription: Subscription,
    plan: Plan,
    host: HostConfig,
    runStrategy: 'Always' | 'Halted',
  ): Promise<VM> {
    const name = subscription.metadata.name!;
    const namespace = subscription.metadata.namespace!;
    const ownerWallet = loginWalletOf(subscription.spec) as Address;
    const nftTokenId = subscription.status?.nft?.tokenId;
    const existing = vms.get(`${namespace}/${name}`);
    if (existing) {
      const wanted = { runStrategy, ownerWallet, ...(nftTokenId !== undefined && { nftTokenId }) };
      const current = {
        runStrategy: existing.spec.runStrategy,
        ownerWallet: existing.spec.ownerWallet,
        ...(existing.spec.nftTokenId !== undefined && { nftTokenId: existing.spec.nftTokenId }),
      };
      if (JSON.stringify(wanted) === JSON.stringify(current)) return existing;
      return kube.patch<VM>(
        blockhostTypes.vm,
        name,
        namespace,
        { metadata: { resourceVersion: existing.metadata.resourceVersion }, spec: wanted },
        'merge',
      );
    }
    const backend = host.spec.backend;
    const image = plan.spec.size?.image ?? backend[backend.type]?.images[0]?.name;
    if (!image) throw new Error(`the ${backend.type} backend lists no images`);
    const vm = {
      apiVersion: API_VERSION,
      kind: 'VM',
      metadata: { name, namespace, labels: { 'blockhost.io/subscription': name } },
      spec: {
        backend: backend.type,
        size: {
          cpu: plan.spec.size.cpu,
          memoryMiB: plan.spec.size.memoryMiB,
          diskGiB: plan.spec.size.diskGiB,
        },
        image,
        ownerWallet,
        ...(nftTokenId !== undefined && { nftTokenId }),
        runStrategy,
        cloudInit: { username: LOGIN_USER },
        subscriptionRef: { name },
      },
    } as VM;
    setControllerReference(vm, subscription, blockhostTypes.subscription);
    return kube.create<VM>(blockhostTypes.vm, vm);
  }

  async function deleteVm(vm: VM | undefined): Promise<void> {
    if (!vm || vm.metadata.deletionTimestamp) return;
    const { name, namespace, resourceVersion } = vm.metadata;
    await kube
      .delete(blockhostTypes.vm, name!, namespace, {
        propagationPolicy: 'Background',
        // Only the VM we judged: a hold set since then conflicts, and the retry sees it.
        preconditions: { resourceVersion },
      })
      .catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
  }

  /**
   * Keeps the NFT's connection details naming the VM's reachable address: when the VM moved (a
   * re-IP, a VM re-created after the grace period), re-encrypt and send updateUserEncrypted once.
   */
  async function keepConnectionDetails(
    subscription: Subscription,
    vm: VM,
    context: ChainContext,
    signature: string,
    log: ReconcileContext['log'],
  ): Promise<{ nft?: Status['nft']; conditions: ConditionUpdate[]; failed?: Explained; retry?: unknown }> {
    const nft = subscription.status!.nft!;
    const tokenId = nft.tokenId!;
    const sender = chain.sender(context);
    const updater = new CredentialUpdater(
      sender,
      chain.client(context),
      context.chainId,
      context.contracts.nft,
    );
    let step = connectionDetailsStep(nft, reachableAddress(vm));
    let recorded = nft;
    if (step.do === 'read') {
      const carried = await updater.carriedHostname(tokenId, signature);
      // Unreadable (never expected): an update makes it right, and the record says none was made yet.
      recorded = { ...nft, hostname: carried ?? '', updates: nft.updates ?? 0 };
      step = connectionDetailsStep(recorded, reachableAddress(vm));
    }
    if (step.do !== 'update') {
      const current = recorded.hostname
        ? [
            {
              type: 'ConnectionDetailsCurrent',
              status: 'True' as const,
              reason: 'Current',
              message: `NFT ${tokenId} names ${recorded.hostname}`,
            },
          ]
        : [];
      return { nft: recorded, conditions: current };
    }
    const details = encryptConnectionDetails(signature, {
      hostname: step.hostname,
      port: SSH_PORT,
      username: LOGIN_USER,
    }) as Hex;
    let txHash: Hex;
    try {
      txHash = await updater.update(tokenId, step.updates, step.hostname, details);
    } catch (error) {
      return {
        nft: recorded,
        conditions: [],
        failed: explainUpdateFailure(error, tokenId, step.hostname, sender.address),
        retry: error,
      };
    }
    const message = `NFT ${tokenId} now names ${step.hostname} (was ${recorded.hostname || 'unreadable'}; transaction ${txHash})`;
    log.info({ tokenId, hostname: step.hostname, txHash }, 'connection details updated on-chain');
    await events.record(
      subscription,
      blockhostTypes.subscription,
      'Normal',
      'ConnectionDetailsUpdated',
      'UpdateCredential',
      message,
    );
    return {
      nft: { ...nft, hostname: step.hostname, updates: step.updates + 1 },
      conditions: [{ type: 'ConnectionDetailsCurrent', status: 'True', reason: 'Updated', message }],
    };
  }

  async function decide(
    subscription: Subscription,
    log: ReconcileContext['log'],
  ): Promise<{ outcome: Outcome; requeueAfterMs?: number; retry?: unknown }> {
    const { spec } = subscription;
    if (spec.payloadError) return { outcome: failed('InvalidPayload', spec.payloadError) };
    const host = hosts.get(HOST_CONFIG_NAME);
    if (!host)
      return {
        outcome: { phase: 'Pending', reason: 'NoHostConfig', message: 'waiting for the HostConfig' },
        requeueAfterMs: RETRY_LATER_MS,
      };
    const plan = planFor(subscription);
    if (!plan)
      return {
        outcome: failed('UnknownPlan', `no Plan has on-chain id ${spec.planId} on chain ${spec.chainId}`),
        requeueAfterMs: RETRY_LATER_MS,
      };
    const resolved = await chain.context();
    if ('notReady' in resolved)
      return {
        outcome: { phase: 'Pending', reason: 'ChainNotReady', message: resolved.notReady },
        requeueAfterMs: RETRY_LATER_MS,
      };
    const { context } = resolved;
    // Chain time: expiry is what the contract says at the head. Never read yet (RPC down since
    // start-up): 0, so nothing expires until the chain can be read.
    const maxAheadMs =
      (host.spec.chain.maxBlockTimeAheadSeconds ?? DEFAULT_MAX_BLOCK_TIME_AHEAD_MS / 1000) * 1000;
    const clock = chain.clock(context);
    const nowMs = options.now?.() ?? (await clock.now(maxAheadMs)) ?? 0;
    // A block too far ahead of the host clock: chain time stood still (ChainClock); say so.
    const clockConditions: ConditionUpdate[] = [];
    if (clock.refusal && !options.now) {
      if (clock.refusal !== countedRefusal) {
        countedRefusal = clock.refusal;
        refusals.inc({ check: 'block_time' });
        log.warn({ reason: clock.refusal.message }, 'block timestamp ahead of the host clock ignored');
      }
      clockConditions.push({
        type: 'ChainTimeTrusted',
        status: 'False',
        reason: 'BlockTimestampAhead',
        message: blockTimeAheadSummary(maxAheadMs),
      });
    } else if (subscription.status?.conditions?.some((c) => c.type === 'ChainTimeTrusted')) {
      clockConditions.push({
        type: 'ChainTimeTrusted',
        status: 'True',
        reason: 'WithinTolerance',
        message: `block timestamps are within ${maxAheadMs / 1000} s of the host clock`,
      });
    }
    let signature: string;
    try {
      signature = decryptUserSignature(context.decrypt.privateKey, spec.userEncrypted);
    } catch (error) {
      return {
        outcome: failed(
          'Undecryptable',
          `userEncrypted cannot be decrypted with the server key: ${(error as Error).message}`,
        ),
      };
    }
    const existing = vms.get(`${subscription.metadata.namespace}/${subscription.metadata.name}`);
    const graceDays = host.spec.gcGraceDays ?? 7;
    const hold = existing?.spec.hold;
    const checked = await confirmLifecycle({
      spec,
      state: lifecycle(spec, nowMs, graceDays, hold),
      nowMs,
      graceDays,
      hold,
      clients: context.endpoints.map((url) => chain.client({ chainId: context.chainId, endpoints: [url] })),
      confirmations: context.confirmations,
      contract: context.contracts.subscriptions,
      maxBlockTimeAheadMs: maxAheadMs,
      clockOverridden: options.now !== undefined,
    });
    const standing: ConditionUpdate[] = [
      {
        type: 'Decrypted',
        status: 'True',
        reason: 'Decrypted',
        message: 'the buyer signature was recovered',
      },
      ...clockConditions,
      ...(checked.condition ? [checked.condition] : []),
    ];
    if (checked.condition?.status === 'False') {
      refusals.inc({ check: 'expiry' });
      log.warn(
        { reason: checked.condition.message },
        'expiry or cancellation not confirmed by the chain; not acted on',
      );
    }
    if ('unconfirmed' in checked)
      return {
        // Nothing is stopped, started or removed on facts the chain does not confirm.
        outcome: {
          phase: subscription.status?.phase ?? 'Pending',
          reason: 'ExpiryUnconfirmed',
          message: checked.unconfirmed,
          conditions: standing,
        },
        requeueAfterMs: CONFIRM_RETRY_MS,
      };
    const { state } = checked;
    const wake =
      checked.condition?.status === 'False'
        ? CONFIRM_RETRY_MS
        : state.nextChangeAt !== undefined
          ? Math.min(Math.max(state.nextChangeAt - nowMs, 0) + 1000, MAX_SLEEP_MS)
          : undefined;
    if (state.vm === 'absent') {
      await deleteVm(existing);
      return {
        outcome: {
          phase: state.phase,
          reason: state.reason,
          message: state.message,
          conditions: standing,
        },
      };
    }
    const vm = await ensureVm(subscription, plan, host, state.vm === 'running' ? 'Always' : 'Halted');
    if (state.vm === 'stopped')
      return {
        outcome: {
          // Held before its NFT was minted: the customer has nothing yet, so not Active.
          phase:
            state.phase === 'Active' && subscription.status?.nft?.tokenId === undefined
              ? 'Provisioning'
              : state.phase,
          reason: state.reason,
          message: state.message,
          vmRef: vm.metadata.name,
          conditions: standing,
        },
        requeueAfterMs: wake,
      };
    const broken = vmFailure(vm);
    if (subscription.status?.nft?.tokenId !== undefined) {
      if (broken)
        return {
          outcome: failing('Active', explainFailure(broken), {
            vmRef: vm.metadata.name,
            conditions: standing,
          }),
          requeueAfterMs: wake,
        };
      const kept = await keepConnectionDetails(subscription, vm, context, signature, log);
      if (kept.failed)
        return {
          outcome: failing('Active', kept.failed, { vmRef: vm.metadata.name, conditions: standing }),
          retry: kept.retry,
        };
      return {
        outcome: {
          phase: 'Active',
          reason: state.reason,
          message: state.message,
          vmRef: vm.metadata.name,
          nft: kept.nft,
          conditions: [...standing, ...kept.conditions],
        },
        requeueAfterMs: wake,
      };
    }
    if (broken)
      return {
        outcome: failing('Provisioning', explainFailure(broken), {
          vmRef: vm.metadata.name,
          conditions: standing,
        }),
        requeueAfterMs: wake,
      };
    const address = reachableAddress(vm);
    if (!address) {
      const waiting: ConditionUpdate = {
        type: 'VMReady',
        status: 'False',
        reason: 'WaitingForVM',
        message: `VM phase ${vm.status?.phase ?? 'unknown'}, guest agent ${vm.status?.guestAgentConnected ? 'connected' : 'not connected'}`,
      };
      return {
        outcome: {
          phase: 'Provisioning',
          reason: 'WaitingForVM',
          message: waiting.message!,
          vmRef: vm.metadata.name,
          conditions: [...standing, waiting],
        },
        requeueAfterMs: wake,
      };
    }
    const details = encryptConnectionDetails(signature, {
      hostname: address,
      port: SSH_PORT,
      username: LOGIN_USER,
    }) as Hex;
    const sender = chain.sender(context);
    const minter = new CredentialMinter(
      sender,
      chain.client(context),
      context.chainId,
      context.contracts.nft,
    );
    const walletLabels = { chain_id: String(context.chainId), address: sender.address };
    let minted;
    try {
      minted = await minter.mint(BigInt(spec.subscriptionId), spec.subscriber as Address, details);
    } catch (error) {
      const explained = explainFailure({
        kind: 'mint',
        error,
        subscriptionId: spec.subscriptionId,
        chainId: context.chainId,
        wallet: sender.address,
        nft: context.contracts.nft,
      });
      if (explained.reason === 'ServerWalletUnfunded') unfunded.set(walletLabels, 1);
      // Recorded, then thrown: the work queue retries with its per-key backoff.
      return {
        outcome: failing('Provisioning', explained, { vmRef: vm.metadata.name, conditions: standing }),
        retry: error,
      };
    }
    unfunded.set(walletLabels, 0);
    log.info({ tokenId: String(minted.tokenId) }, 'access credential minted');
    return {
      outcome: {
        phase: 'Active',
        reason: 'CredentialMinted',
        message: `VM ${vm.metadata.name} is running; NFT ${minted.tokenId} holds its connection details`,
        vmRef: vm.metadata.name,
        nft: { tokenId: minted.tokenId.toString(), ...(minted.txHash && { txHash: minted.txHash }) },
        conditions: [
          ...standing,
          { type: 'VMReady', status: 'True', reason: 'Running', message: `reachable at ${address}` },
          { type: 'NFTMinted', status: 'True', reason: 'Minted', message: `token ${minted.tokenId}` },
        ],
      },
      requeueAfterMs: wake,
    };
  }

  const reconcile = async (
    { namespace, name }: Request,
    { log }: ReconcileContext,
  ): Promise<ReconcileResult> => {
    const subscription = subscriptions.get(`${namespace}/${name}`);
    if (!subscription || subscription.metadata.deletionTimestamp) return;
    let decided;
    try {
      decided = await decide(subscription, log);
    } catch (error) {
      // A conflict or an existing VM is a stale cache: the retry sees the new object, nothing to tell.
      if (!isConflict(error) && !isAlreadyExists(error)) {
        const explained = explainFailure({ kind: 'reconcile', error });
        // Best effort: the error thrown below is the one that counts (and is logged) either way.
        await record(subscription, failing(subscription.status?.phase ?? 'Pending', explained, {})).catch(
          () => undefined,
        );
      }
      throw error;
    }
    const { outcome, requeueAfterMs, retry } = decided;
    await record(subscription, outcome);
    if (retry !== undefined) throw retry;
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  };

  manager.addController<Subscription>({
    name: SUBSCRIPTION_CONTROLLER,
    for: blockhostTypes.subscription,
    forOptions: watched,
    owns: [blockhostTypes.vm],
    // A Plan that appears or syncs later unblocks subscriptions that named it.
    watches: [
      {
        type: blockhostTypes.plan,
        map: () =>
          subscriptions
            .list()
            .filter((s) => s.status?.reason === 'UnknownPlan')
            .map((s) => ({ namespace: s.metadata.namespace, name: s.metadata.name! })),
      },
    ],
    reconcile,
    // A reconcile that mints waits for the mint's receipt (a block): the worker count bounds mints
    // per block, and 500 purchases in one block must not take minutes.
    workers: 32,
  });
}
