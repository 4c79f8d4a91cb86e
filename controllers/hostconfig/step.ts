import type { Address } from 'viem';
import type { HostConfig, HostConfigStatus, Plan } from '../../lib/api/v1alpha1/index.js';
import type { KubeClient } from '../../lib/kube/client.js';
import type { Logger } from '../../lib/log.js';
import type { ChainServices } from '../chain/services.js';
import type { DeployerKey } from '../wallet/keys.js';
import type { BackendProvider } from '../vm/backends/provider.js';
import type { SETUP_STEPS } from './ready.js';

/** A setup step, named after the condition it owns. */
export type SetupStepName = (typeof SETUP_STEPS)[number];

/** Points where a fault-injection test kills the process: right after a setup transaction went out. */
export type HostConfigStep = 'deployBroadcast' | 'adminMintBroadcast';

export interface SetupContracts {
  subscriptions: Address;
  nft: Address;
  stablecoin: Address;
  startBlock: number;
}

/** What earlier steps of this pass produced for later ones. */
export interface SetupState {
  /** The server wallet, as KeysReady found (or made) it; the decrypt key is no setup step's business. */
  deployer?: DeployerKey;
  contracts?: SetupContracts;
}

export interface SetupContext {
  /** The HostConfig with schema defaults applied. */
  host: HostConfig;
  kube: KubeClient;
  /** The controller namespace: server wallet Secret, transaction intents, backend credentials. */
  namespace: string;
  chain: ChainServices;
  backends: BackendProvider;
  plans: Plan[];
  log: Logger;
  signal: AbortSignal;
  onStep?: (step: HostConfigStep) => void;
  state: SetupState;
  /** Shows a long-running step's progress (a transaction waiting to be mined) in the status now. */
  progress(step: SetupStepName, reason: string, message: string): Promise<void>;
}

/** Status fields a step owns; a key present with `undefined` removes the field. */
export type StepStatusFields = Partial<
  Omit<HostConfigStatus, 'conditions' | 'observedGeneration' | 'message'>
>;

export interface StepResult {
  ready: boolean;
  /** CamelCase condition reason. */
  reason: string;
  /** For operators: what is done, or what is wrong and which field or action fixes it. */
  message: string;
  status?: StepStatusFields;
}

export type SetupStep = (context: SetupContext) => Promise<StepResult>;

/** A failure a step reports as its condition (reason + message) rather than as a crash. */
export class StepError extends Error {
  override name = 'StepError';

  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const ready = (reason: string, message: string, status?: StepStatusFields): StepResult => ({
  ready: true,
  reason,
  message,
  status,
});

export const notReady = (reason: string, message: string): StepResult => ({ ready: false, reason, message });
