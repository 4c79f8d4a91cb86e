import { createHash } from 'node:crypto';
import { encodeFunctionData, parseEventLogs } from 'viem';
import { BlockhostSubscriptionsAbi } from '../../contracts/generated/artifacts.js';
import { blockhostTypes, type Plan } from '../../lib/api/v1alpha1/index.js';
import type { Request, ReconcileContext } from '../../lib/runtime/controller.js';
import { setCondition } from '../../lib/runtime/conditions.js';
import type { Manager } from '../../lib/runtime/manager.js';
import { updateStatus } from '../../lib/runtime/status.js';
import type { ChainContext } from '../chain/context.js';
import type { ChainServices } from '../chain/services.js';

export const PLAN_CONTROLLER = 'plan';
const RETRY_WHEN_CHAIN_NOT_READY_MS = 30_000;

interface OnChainPlan {
  name: string;
  price: bigint;
  active: boolean;
}

const digest = (value: unknown) =>
  createHash('sha256')
    .update(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))
    .digest('hex')
    .slice(0, 16);

/**
 * Plan objects are the operator's truth: this controller creates the on-chain plan once (the
 * sender's intent key is the Plan's uid, so a crash after createPlan never creates a second one) and
 * afterwards updates name, price and active flag whenever the chain differs from the spec.
 */
export function registerPlanController(manager: Manager, chain: ChainServices): void {
  const cache = manager.informer<Plan>(blockhostTypes.plan);
  const events = manager.eventRecorder(PLAN_CONTROLLER);

  const setStatus = (plan: Plan, edit: (status: NonNullable<Plan['status']>) => void) =>
    updateStatus<Plan>(manager.client, blockhostTypes.plan, { name: plan.metadata.name! }, (latest) => {
      const status = { ...latest.status };
      edit(status);
      latest.status = status;
    });

  const synced = (
    status: NonNullable<Plan['status']>,
    plan: Plan,
    state: 'True' | 'False',
    reason: string,
    message: string,
  ) => {
    const update = { status: state, reason, message, observedGeneration: plan.metadata.generation } as const;
    status.conditions = setCondition(setCondition(status.conditions, { type: 'Synced', ...update }), {
      type: 'Ready',
      ...update,
    });
    status.observedGeneration = plan.metadata.generation;
  };

  async function createOnChain(plan: Plan, context: ChainContext): Promise<bigint> {
    const key = `plan-create:${context.chainId}:${context.contracts.subscriptions.toLowerCase()}:${plan.metadata.uid}`;
    const data = encodeFunctionData({
      abi: BlockhostSubscriptionsAbi,
      functionName: 'createPlan',
      args: [plan.spec.displayName, BigInt(plan.spec.priceUsdCentsPerDay)],
    });
    const { receipt } = await chain.sender(context).send(key, { to: context.contracts.subscriptions, data });
    const [created] = parseEventLogs({
      abi: BlockhostSubscriptionsAbi,
      eventName: 'PlanCreated',
      logs: receipt.logs,
    });
    if (receipt.status !== 'success' || !created)
      throw new Error(`createPlan ${receipt.transactionHash} did not create a plan`);
    return created.args.planId;
  }

  async function readOnChain(id: bigint, context: ChainContext): Promise<OnChainPlan> {
    const [name, price, active] = await chain.client(context).readContract({
      address: context.contracts.subscriptions,
      abi: BlockhostSubscriptionsAbi,
      functionName: 'getPlan',
      args: [id],
    });
    return { name, price, active };
  }

  const reconcile = async ({ name }: Request, { log }: ReconcileContext) => {
    const plan = cache.get(name);
    if (!plan || plan.metadata.deletionTimestamp) return;
    const resolved = await chain.context();
    if ('notReady' in resolved) {
      await setStatus(plan, (status) => synced(status, plan, 'False', 'ChainNotReady', resolved.notReady));
      return { requeueAfterMs: RETRY_WHEN_CHAIN_NOT_READY_MS };
    }
    const { context } = resolved;
    let id =
      plan.status?.onChainPlanId && plan.status.chainId === context.chainId
        ? BigInt(plan.status.onChainPlanId)
        : undefined;
    if (id === undefined) {
      id = await createOnChain(plan, context);
      log.info({ planId: String(id) }, 'created the on-chain plan');
      await events.record(
        plan,
        blockhostTypes.plan,
        'Normal',
        'PlanCreated',
        'CreatePlan',
        `created on-chain plan ${id}`,
      );
      const created = id;
      await setStatus(plan, (status) => {
        status.onChainPlanId = created.toString();
        status.chainId = context.chainId;
      });
    }
    const desired: OnChainPlan = {
      name: plan.spec.displayName,
      price: BigInt(plan.spec.priceUsdCentsPerDay),
      active: plan.spec.active ?? true,
    };
    const observed = await readOnChain(id, context);
    if (
      observed.name !== desired.name ||
      observed.price !== desired.price ||
      observed.active !== desired.active
    ) {
      // Keyed by what we want and what we saw: a retry of this very update is never sent twice, while
      // a later change (by the operator, or by someone else on-chain) gets a transaction of its own.
      const key = `plan-update:${context.chainId}:${context.contracts.subscriptions.toLowerCase()}:${plan.metadata.uid}:${digest([desired, observed])}`;
      const data = encodeFunctionData({
        abi: BlockhostSubscriptionsAbi,
        functionName: 'updatePlan',
        args: [id, desired.name, desired.price, desired.active],
      });
      const { receipt } = await chain
        .sender(context)
        .send(key, { to: context.contracts.subscriptions, data });
      if (receipt.status !== 'success') throw new Error(`updatePlan ${receipt.transactionHash} reverted`);
      await events.record(
        plan,
        blockhostTypes.plan,
        'Normal',
        'PlanUpdated',
        'UpdatePlan',
        `updated on-chain plan ${id}`,
      );
    }
    await setStatus(plan, (status) => {
      status.syncedName = desired.name;
      status.syncedPriceUsdCentsPerDay = Number(desired.price);
      status.syncedActive = desired.active;
      synced(status, plan, 'True', 'InSync', `on-chain plan ${id} matches the spec`);
    });
  };

  manager.addController<Plan>({ name: PLAN_CONTROLLER, for: blockhostTypes.plan, reconcile });
}
