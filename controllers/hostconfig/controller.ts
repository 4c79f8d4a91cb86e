import { blockhostTypes, hostConfigSchema, type HostConfig } from '../../lib/api/v1alpha1/index.js';
import type { Request, ReconcileContext } from '../../lib/runtime/controller.js';
import type { Manager } from '../../lib/runtime/manager.js';
import { findCondition, setCondition, type ConditionUpdate } from '../../lib/runtime/conditions.js';
import { updateStatus } from '../../lib/runtime/status.js';
import { readyCondition } from './ready.js';

export const HOST_CONFIG_CONTROLLER = 'hostconfig';

/**
 * Keeps HostConfig status honest: observedGeneration follows the spec, and Ready summarises the
 * setup-step conditions (which the step controllers of later stages set). A stored object that our
 * schema rejects (possible when the admission webhook is not installed) is reported, not acted on.
 */
export function registerHostConfigController(manager: Manager): void {
  const events = manager.eventRecorder(HOST_CONFIG_CONTROLLER);
  const cache = manager.informer<HostConfig>(blockhostTypes.hostConfig);

  const reconcile = async ({ name }: Request, { log }: ReconcileContext) => {
    const cached = cache.get(name);
    if (!cached || cached.metadata.deletionTimestamp) return;
    const parsed = hostConfigSchema.safeParse(cached);
    const ready: ConditionUpdate = parsed.success
      ? readyCondition(cached)
      : {
          type: 'Ready',
          status: 'False',
          reason: 'InvalidSpec',
          message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
          observedGeneration: cached.metadata.generation,
        };
    const before = findCondition(cached.status?.conditions, 'Ready');
    const stored = await updateStatus<HostConfig>(
      manager.client,
      blockhostTypes.hostConfig,
      { name },
      (latest) => {
        const conditions = setCondition(latest.status?.conditions, ready);
        const generation = latest.metadata.generation;
        if (conditions === latest.status?.conditions && latest.status?.observedGeneration === generation)
          return false;
        latest.status = { ...latest.status, conditions, observedGeneration: generation };
      },
    );
    const after = findCondition(stored.status?.conditions, 'Ready');
    if (after && (before?.status !== after.status || before.reason !== after.reason)) {
      log.info({ ready: after.status, reason: after.reason }, 'HostConfig readiness changed');
      await events.record(
        stored,
        blockhostTypes.hostConfig,
        after.reason === 'InvalidSpec' ? 'Warning' : 'Normal',
        after.reason,
        'Reconcile',
        after.message,
      );
    }
  };

  manager.addController<HostConfig>({
    name: HOST_CONFIG_CONTROLLER,
    for: blockhostTypes.hostConfig,
    reconcile,
  });
}
