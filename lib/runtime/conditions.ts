import type { Condition } from '../api/v1alpha1/common.js';

export type { Condition } from '../api/v1alpha1/common.js';

export type ConditionStatus = Condition['status'];

export interface ConditionUpdate {
  type: string;
  status: ConditionStatus;
  /** CamelCase, machine-readable. */
  reason: string;
  message?: string;
  /** The metadata.generation the condition was computed from. */
  observedGeneration?: number;
}

/**
 * Sets a metav1.Condition in `conditions` (returns a new array). lastTransitionTime changes only when
 * the status does, as apimachinery's meta.SetStatusCondition does; reason/message/generation always
 * update. Returns the same array when nothing changed, so callers can skip a no-op status write.
 */
export function setCondition(
  conditions: Condition[] | undefined,
  update: ConditionUpdate,
  now = new Date(),
): Condition[] {
  const list = conditions ?? [];
  const existing = list.find((c) => c.type === update.type);
  const next: Condition = {
    type: update.type,
    status: update.status,
    reason: update.reason,
    message: update.message ?? '',
    observedGeneration: update.observedGeneration ?? existing?.observedGeneration,
    lastTransitionTime:
      existing && existing.status === update.status
        ? existing.lastTransitionTime
        : now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
  if (existing && sameCondition(existing, next)) return list;
  return existing ? list.map((c) => (c.type === update.type ? next : c)) : [...list, next];
}

export const findCondition = (conditions: Condition[] | undefined, type: string): Condition | undefined =>
  conditions?.find((c) => c.type === type);

export const isConditionTrue = (conditions: Condition[] | undefined, type: string): boolean =>
  findCondition(conditions, type)?.status === 'True';

function sameCondition(a: Condition, b: Condition): boolean {
  return (
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.observedGeneration === b.observedGeneration &&
    a.lastTransitionTime === b.lastTransitionTime
  );
}
