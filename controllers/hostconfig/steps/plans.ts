import type { Plan } from '../../../lib/api/v1alpha1/index.js';
import { findCondition } from '../../../lib/runtime/conditions.js';
import { notReady, ready, type SetupContext, type StepResult } from '../step.js';

/** Why a Plan is not in sync yet, or undefined when it is (on this chain, for its current spec). */
function planProblem(plan: Plan, chainId: number): string | undefined {
  const status = plan.status;
  const condition = findCondition(status?.conditions, 'Ready');
  if (!status?.onChainPlanId) return condition?.message || 'not created on-chain yet';
  if (status.chainId !== chainId) return `on chain ${status.chainId}, not ${chainId}`;
  if (condition?.status !== 'True') return condition?.message || 'not in sync yet';
  if (condition.observedGeneration !== plan.metadata.generation)
    return 'its latest change is not on-chain yet';
  return undefined;
}

/**
 * PlansReady only reports: the plan controller creates and updates plans on-chain. Ready when there
 * is at least one Plan and every Plan has its on-chain id and matches the chain.
 */
export async function plansStep({ plans, host }: SetupContext): Promise<StepResult> {
  const live = plans.filter((plan) => !plan.metadata.deletionTimestamp);
  if (live.length === 0) return notReady('NoPlans', 'there are no Plan objects: create at least one Plan');
  const problems = live
    .map((plan) => ({ name: plan.metadata.name, problem: planProblem(plan, host.spec.chain.chainId) }))
    .filter((p) => p.problem !== undefined)
    .sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''));
  if (problems.length > 0)
    return notReady(
      'PlansNotSynced',
      `plans not on-chain yet: ${problems.map((p) => `${p.name} (${p.problem})`).join('; ')}`,
    );
  const ids = live
    .map((plan) => `${plan.metadata.name}=${plan.status!.onChainPlanId}`)
    .sort()
    .join(', ');
  return ready('PlansSynced', `${live.length} plan(s) on-chain: ${ids}`);
}
