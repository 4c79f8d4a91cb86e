import { BaseError } from 'viem';
import type { SetupMetrics } from './metrics.js';
import { SETUP_STEPS } from './ready.js';
import { adminCredentialStep } from './steps/admin-credential.js';
import { backendStep } from './steps/backend.js';
import { contractsStep } from './steps/contracts.js';
import { keysStep } from './steps/keys.js';
import { plansStep } from './steps/plans.js';
import { signupStep } from './steps/signup.js';
import {
  notReady,
  StepError,
  type SetupContext,
  type SetupStep,
  type SetupStepName,
  type StepResult,
} from './step.js';

/** Each condition's step; the order is SETUP_STEPS' (one source for readiness and the pipeline). */
const STEPS: Record<SetupStepName, SetupStep> = {
  KeysReady: keysStep,
  ContractsReady: contractsStep,
  AdminCredentialMinted: adminCredentialStep,
  PlansReady: plansStep,
  BackendReady: backendStep,
  SignupPublished: signupStep,
};

export type SetupResults = Map<SetupStepName, StepResult>;

/**
 * Runs every step in order. A step that fails becomes its condition (False, with the reason and
 * message) and the pipeline goes on: independent steps still report, dependent ones say what they
 * wait for. `onResult` sees each result as it comes, so progress shows while later steps run.
 */
export async function runSetupPipeline(
  context: SetupContext,
  metrics: SetupMetrics,
  onResult: (results: SetupResults) => Promise<void>,
): Promise<SetupResults> {
  const results: SetupResults = new Map();
  for (const name of SETUP_STEPS) {
    const started = performance.now();
    let result: StepResult;
    try {
      result = await STEPS[name](context);
    } catch (error) {
      // Stopping (leadership lost, shutdown): report nothing half-done; the next leader reruns.
      if (context.signal.aborted) throw error;
      result = failure(error);
      context.log.warn({ step: name, reason: result.reason, err: result.message }, 'setup step failed');
    }
    metrics.observe(name, result.ready, result.reason, (performance.now() - started) / 1000);
    results.set(name, result);
    await onResult(results);
  }
  return results;
}

function failure(error: unknown): StepResult {
  if (error instanceof StepError) return notReady(error.reason, error.message);
  // viem's messages run over many lines (request details, version); the first names the problem.
  if (error instanceof BaseError)
    return notReady('Error', error.details ? `${error.shortMessage} (${error.details})` : error.shortMessage);
  return notReady('Error', (error instanceof Error ? error.message : String(error)).split('\n')[0]!);
}
