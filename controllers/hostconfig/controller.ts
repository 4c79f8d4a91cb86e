import {
  blockhostTypes,
  HOST_CONFIG_CONDITIONS,
  HOST_CONFIG_NAME,
  hostConfigSchema,
  type HostConfig,
  type Plan,
} from '../../lib/api/v1alpha1/index.js';
import type { Request, ReconcileContext } from '../../lib/runtime/controller.js';
import type { Manager } from '../../lib/runtime/manager.js';
import { findCondition, setCondition, type Condition } from '../../lib/runtime/conditions.js';
import type { EventRecorder } from '../../lib/runtime/events.js';
import { updateStatus } from '../../lib/runtime/status.js';
import type { ChainServices } from '../chain/services.js';
import type { BackendProvider } from '../vm/backends/provider.js';
import { ipv6Outcome } from './ipv6.js';
import { SetupMetrics } from './metrics.js';
import { runSetupPipeline, type SetupResults } from './pipeline.js';
import { SETUP_STEPS } from './ready.js';
import { RETRY_SETUP_ANNOTATION, SetupSchedule } from './schedule.js';
import { writeSetupStatus } from './setup-status.js';
import type { HostConfigStep, SetupContext } from './step.js';

export const HOST_CONFIG_CONTROLLER = 'hostconfig';

export interface HostConfigControllerOptions {
  chain: ChainServices;
  backends: BackendProvider;
  /** Controller namespace: the server wallet Secret and transaction intents live here. */
  namespace: string;
  /** Fault-injection hook: called right after a setup transaction was broadcast. */
  onStep?: (step: HostConfigStep) => void;
}

/** Reasons of a False condition that mean "under way", not "wrong": recorded as Normal events. */
const UNDER_WAY = new Set(['WaitingForKeys', 'WaitingForContracts', 'TransactionPending', 'SetupPending']);

/**
 * The setup pipeline (docs/setup-pipeline.md): each step of the seed's finalization, as an idempotent
 * step with its own condition, run in order on the leader, retried with backoff, rechecked every
 * few minutes once done. Ready summarises the steps (ready.ts). A stored object our schema rejects
 * (possible without the admission webhook) is reported, never acted on.
 */
export function registerHostConfigController(manager: Manager, options: HostConfigControllerOptions): void {
  const events = manager.eventRecorder(HOST_CONFIG_CONTROLLER);
  const cache = manager.informer<HostConfig>(blockhostTypes.hostConfig);
  const plans = manager.informer<Plan>(blockhostTypes.plan);
  const metrics = new SetupMetrics(manager.metrics.registry);
  const schedule = new SetupSchedule();

  const reconcile = async ({ name }: Request, { log, signal }: ReconcileContext) => {
    const cached = cache.get(name);
    if (!cached || cached.metadata.deletionTimestamp) return;
    const parsed = hostConfigSchema.safeParse(cached);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      return reportInvalidSpec(manager, events, cached, message);
    }
    const host = { ...cached, spec: parsed.data.spec } as HostConfig;
    const planList = plans.list();
    const decision = schedule.decide(host, planList);
    if (!decision.run) return { requeueAfterMs: decision.waitMs };
    if (decision.retryRequested) {
      const requested = cached.metadata.annotations?.[RETRY_SETUP_ANNOTATION];
      log.info({ requested }, 'setup retry requested');
      await events.record(
        cached,
        blockhostTypes.hostConfig,
        'Normal',
        'RetryRequested',
        'Setup',
        `retrying setup now (${RETRY_SETUP_ANNOTATION}: ${requested})`,
      );
    }

    const generation = cached.metadata.generation;
    const ipv6 = ipv6Outcome(host.spec.ipv6);
    let sofar: SetupResults = new Map();
    const context: SetupContext = {
      host,
      kube: manager.client,
      namespace: options.namespace,
      chain: options.chain,
      backends: options.backends,
      plans: planList,
      log,
      signal,
      onStep: options.onStep,
      state: {},
      progress: async (step, reason, message) => {
        await writeSetupStatus(manager.client, name, generation, sofar, ipv6, { step, reason, message });
      },
    };
    const results = await runSetupPipeline(context, metrics, async (partial) => {
      sofar = partial;
      await writeSetupStatus(manager.client, name, generation, partial, ipv6);
    });
    const { after } = await writeSetupStatus(manager.client, name, generation, results, ipv6);
    await recordTransitions(events, cached.status?.conditions ?? [], after, log);
    const allReady = SETUP_STEPS.every((step) => results.get(step)?.ready);
    return { requeueAfterMs: schedule.finished(host, allReady) };
  };

  manager.addController<HostConfig>({
    name: HOST_CONFIG_CONTROLLER,
    for: blockhostTypes.hostConfig,
    // PlansReady reports the plan controller's progress, so Plan changes re-run the pipeline.
    watches: [{ type: blockhostTypes.plan, map: () => [{ name: HOST_CONFIG_NAME }] }],
    reconcile,
  });
}

/** An Event per condition (steps and Ready) whose status or reason changed during the pass. */
async function recordTransitions(
  events: EventRecorder,
  before: Condition[],
  after: HostConfig,
  log: ReconcileContext['log'],
): Promise<void> {
  for (const type of HOST_CONFIG_CONDITIONS) {
    const was = findCondition(before, type);
    const now = findCondition(after.status?.conditions, type);
    if (!now || (was?.status === now.status && was.reason === now.reason)) continue;
    if (type === 'Ready') log.info({ ready: now.status, reason: now.reason }, 'HostConfig readiness changed');
    const normal = now.status === 'True' || UNDER_WAY.has(now.reason);
    await events.record(
      after,
      blockhostTypes.hostConfig,
      normal ? 'Normal' : 'Warning',
      now.reason,
      type,
      `${type}: ${now.message}`,
    );
  }
}

async function reportInvalidSpec(
  manager: Manager,
  events: EventRecorder,
  cached: HostConfig,
  message: string,
): Promise<void> {
  const generation = cached.metadata.generation;
  const before = findCondition(cached.status?.conditions, 'Ready');
  const stored = await updateStatus<HostConfig>(
    manager.client,
    blockhostTypes.hostConfig,
    { name: cached.metadata.name! },
    (latest) => {
      const conditions = setCondition(latest.status?.conditions, {
        type: 'Ready',
        status: 'False',
        reason: 'InvalidSpec',
        message,
        observedGeneration: generation,
      });
      if (conditions === latest.status?.conditions && latest.status?.observedGeneration === generation)
        return false;
      latest.status = { ...latest.status, conditions, observedGeneration: generation, message };
    },
  );
  if (before?.reason !== 'InvalidSpec')
    await events.record(stored, blockhostTypes.hostConfig, 'Warning', 'InvalidSpec', 'Reconcile', message);
}
