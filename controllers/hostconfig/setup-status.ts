import { isDeepStrictEqual } from 'node:util';
import { blockhostTypes, type HostConfig, type HostConfigStatus } from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { findCondition, setCondition, type Condition } from '../../lib/runtime/conditions.js';
import { updateStatus } from '../../lib/runtime/status.js';
import type { Ipv6Outcome } from './ipv6.js';
import type { SetupResults } from './pipeline.js';
import { readyCondition, SETUP_STEPS } from './ready.js';
import type { SetupStepName, StepStatusFields } from './step.js';

const MAX_MESSAGE = 4096;

export interface InProgress {
  step: SetupStepName;
  reason: string;
  message: string;
}

export interface StatusChange {
  before: Condition[];
  after: HostConfig;
}

/**
 * Writes the steps' conditions and fields, Ready (from ready.ts) and a one-line summary for the
 * wizard. Steps without a result yet keep their stored condition. Skips the write when nothing changed.
 */
export async function writeSetupStatus(
  client: KubeClient,
  name: string,
  generation: number | undefined,
  results: SetupResults,
  ipv6: Ipv6Outcome,
  inProgress?: InProgress,
): Promise<StatusChange> {
  let before: Condition[] = [];
  const after = await updateStatus<HostConfig>(client, blockhostTypes.hostConfig, { name }, (latest) => {
    before = latest.status?.conditions ?? [];
    const status: HostConfigStatus = { ...latest.status };
    let conditions = status.conditions;
    for (const [step, result] of results)
      conditions = setCondition(conditions, {
        type: step,
        status: result.ready ? 'True' : 'False',
        reason: result.reason,
        message: result.message,
        observedGeneration: generation,
      });
    if (inProgress)
      conditions = setCondition(conditions, {
        type: inProgress.step,
        status: 'False',
        reason: inProgress.reason,
        message: inProgress.message,
        observedGeneration: generation,
      });
    status.conditions = conditions;
    for (const result of results.values()) applyFields(status, result.status);
    applyFields(status, ipv6.status);
    const ready = readyCondition({ ...latest, metadata: { ...latest.metadata, generation }, status });
    status.conditions = setCondition(status.conditions, ready);
    status.message = summary(status, inProgress, ipv6.note).slice(0, MAX_MESSAGE);
    status.observedGeneration = generation;
    if (isDeepStrictEqual(status, latest.status)) return false;
    latest.status = status;
  });
  return { before, after };
}

function applyFields(status: HostConfigStatus, fields: StepStatusFields | undefined): void {
  for (const [key, value] of Object.entries(fields ?? {})) {
    const field = key as keyof StepStatusFields;
    if (value === undefined) delete status[field];
    else (status as Record<string, unknown>)[field] = value;
  }
}

/** What the wizard shows under the progress list: the step in progress, the first one stuck, or done. */
function summary(
  status: HostConfigStatus,
  inProgress: InProgress | undefined,
  note: string | undefined,
): string {
  const suffix = note ? ` (${note})` : '';
  if (inProgress) return `${inProgress.step}: ${inProgress.message}${suffix}`;
  const pending = SETUP_STEPS.find((step) => findCondition(status.conditions, step)?.status !== 'True');
  if (!pending) return `setup complete; signup page at ${status.signupUrl ?? 'an unknown URL'}${suffix}`;
  return `${pending}: ${findCondition(status.conditions, pending)?.message ?? 'not started yet'}${suffix}`;
}
