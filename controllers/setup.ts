import type { Logger } from '../lib/log.js';
import type { Manager } from '../lib/runtime/manager.js';
import { ChainMetrics } from '../lib/chain/metrics.js';
import { ChainServices } from './chain/services.js';
import { chainWatcherRunnable } from './chain/watcher-runnable.js';
import { transactionRunnable } from './chain/tx-runnable.js';
import { registerLoginSignatureController } from './login-signature/controller.js';
import { registerHostConfigController } from './hostconfig/controller.js';
import { registerPlanController } from './plan/controller.js';
import {
  registerSubscriptionController,
  type SubscriptionControllerOptions,
} from './subscription/controller.js';
import { backendFactories } from './vm/backends/index.js';
import { BackendMetrics } from './vm/backends/instrumented.js';
import { BackendProvider, type BackendFactory } from './vm/backends/provider.js';
import { registerVmController, type VmControllerOptions, type VmControllerStep } from './vm/controller.js';
import type { SenderStep } from './chain/tx-sender.js';
import type { HostConfigStep } from './hostconfig/step.js';
import { registerWalletRequestController, type WalletRequestStep } from './wallet/controller.js';
import type { BackendType } from '../lib/api/v1alpha1/index.js';

export interface ControllerSetup {
  /** Namespace of the Subscriptions, the Lease and what the web hands over (wallet requests, login signatures). */
  namespace: string;
  /**
   * The controller's private namespace: server wallet Secret, transaction intents, chain checkpoint,
   * address claims. Only the controller's service account may write there (docs/controller-state.md).
   * Default: `namespace` (in-process tests that do not exercise the boundary).
   */
  stateNamespace?: string;
  log: Logger;
  /** Replaces drivers (tests and benchmarks use an in-memory one). */
  backendFactories?: Partial<Record<BackendType, BackendFactory>>;
  vm?: Omit<VmControllerOptions, 'backends' | 'claimsNamespace' | 'onStep'>;
  /** Test hook at the steps where a crash matters most (fault-injection tests kill the process there). */
  onStep?: (step: VmControllerStep | SenderStep | HostConfigStep | WalletRequestStep) => void;
  subscription?: SubscriptionControllerOptions;
}

/** Registers every BlockHost controller and the chain watcher on `manager`: main.ts and tests alike. */
export function registerControllers(manager: Manager, setup: ControllerSetup): { chain: ChainServices } {
  const { namespace, log } = setup;
  const stateNamespace = setup.stateNamespace ?? namespace;
  const chain = new ChainServices(
    manager.client,
    namespace,
    log,
    new ChainMetrics(manager.metrics.registry),
    setup.onStep,
    stateNamespace,
  );
  const backends = new BackendProvider(setup.backendFactories ?? backendFactories, {
    kube: manager.client,
    // Backend credentials (the Proxmox token) are controller state.
    namespace: stateNamespace,
    log,
    metrics: new BackendMetrics(manager.metrics.registry),
  });
  registerHostConfigController(manager, { chain, backends, namespace: stateNamespace, onStep: setup.onStep });
  registerPlanController(manager, chain);
  registerSubscriptionController(manager, chain, setup.subscription);
  registerVmController(manager, {
    ...setup.vm,
    backends,
    claimsNamespace: stateNamespace,
    onStep: setup.onStep,
  });
  registerWalletRequestController(manager, chain, setup.onStep);
  registerLoginSignatureController(manager, { backends, namespace });
  manager.addRunnable(
    'chain-watcher',
    chainWatcherRunnable(chain, log.child({ component: 'chain-watcher' })),
  );
  manager.addRunnable(
    'transactions',
    transactionRunnable(chain, manager.metrics.registry, log.child({ component: 'tx-sender' })),
  );
  return { chain };
}
