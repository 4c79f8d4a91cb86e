import type { KubeClient } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import { typeKey, type ResourceType } from '../kube/resource-types.js';
import type { Logger } from '../log.js';
import { Backoff, sleep } from '../backoff.js';
import { Controller, type ControllerOptions, type Watch } from './controller.js';
import { EventRecorder } from './events.js';
import { startHealthServer, type HealthServer } from './health-server.js';
import { Informer, type InformerOptions } from './informer.js';
import { LeaderElector, type LeaderElectionConfig } from './leader-election.js';
import { RuntimeMetrics } from './metrics.js';

export interface ManagerOptions {
  client: KubeClient;
  log: Logger;
  /** Omit to run without leader election (a single replica, or tests). */
  leaderElection?: LeaderElectionConfig;
  /** Port of /healthz, /readyz, /metrics; 0 picks a free one; undefined serves nothing. */
  healthPort?: number;
  healthHost?: string;
  /** Resync period of every informer (controller-runtime's SyncPeriod). */
  resyncMs?: number;
  metrics?: RuntimeMetrics;
}

export type ControllerSpec<T extends KubeObject> = Omit<ControllerOptions<T>, 'for' | 'owns' | 'watches'> & {
  for: ResourceType;
  /** Narrows the primary informer (e.g. ConfigMaps of one namespace with one label). */
  forOptions?: Pick<InformerOptions, 'namespace' | 'labelSelector'>;
  owns?: ResourceType[];
  watches?: { type: ResourceType; map: Watch['map'] }[];
};

export type ManagerExit = 'stopped' | 'leadership-lost';

/**
 * Owns the shared informer cache, the controllers, leader election and the health/metrics server,
 * like controller-runtime's manager. Caches start at once (a standby keeps a warm cache); controllers
 * run only while this process is the leader, and stop before a standby may take over.
 */
export class Manager {
  readonly client: KubeClient;
  readonly log: Logger;
  readonly metrics: RuntimeMetrics;
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly controllers: Controller<KubeObject>[] = [];
  private readonly runnables: { name: string; run: (signal: AbortSignal) => Promise<void> }[] = [];
  private readonly stopping = new AbortController();
  private health?: HealthServer;
  private started = false;

  constructor(private readonly options: ManagerOptions) {
    this.client = options.client;
    this.log = options.log;
    this.metrics = options.metrics ?? new RuntimeMetrics();
  }

  /** The shared informer of `type` (one per type and namespace, created on first use). */
  informer<T extends KubeObject>(
    type: ResourceType,
    options: Pick<InformerOptions, 'namespace' | 'labelSelector'> = {},
  ): Informer<T> {
    const key = `${typeKey(type)}@${options.namespace ?? ''}?${options.labelSelector ?? ''}`;
    let informer = this.informers.get(key);
    if (!informer) {
      informer = new Informer(this.client, type, this.log, { ...options, resyncMs: this.options.resyncMs });
      this.informers.set(key, informer);
      if (this.started) void informer.start(this.stopping.signal);
    }
    return informer as unknown as Informer<T>;
  }

  eventRecorder(controller: string): EventRecorder {
    return new EventRecorder(this.client, this.log, controller);
  }

  addController<T extends KubeObject>(spec: ControllerSpec<T>): Controller<T> {
    const controller = new Controller<T>(
      {
        ...spec,
        for: this.informer<T>(spec.for, spec.forOptions),
        owns: spec.owns?.map((type) => this.informer(type)),
        watches: spec.watches?.map(({ type, map }) => ({ informer: this.informer(type), map })),
      },
      this.metrics,
      this.log,
    );
    this.controllers.push(controller as unknown as Controller<KubeObject>);
    return controller;
  }

  /**
   * A long-running task that, like a controller, runs only on the leader (the chain watcher). It is
   * restarted with backoff if it throws; it should return only once `signal` aborts.
   */
  addRunnable(name: string, run: (signal: AbortSignal) => Promise<void>): void {
    this.runnables.push({ name, run });
  }

  /** `/readyz`: every informer has listed once. */
  ready(): boolean {
    return [...this.informers.values()].every((informer) => informer.hasSynced());
  }

  get healthPort(): number | undefined {
    return this.health?.port;
  }

  /**
   * Runs until stop() or lost leadership. Resolves with why it ended; the process entry point exits
   * non-zero on 'leadership-lost', as controller-runtime does, so a fresh process campaigns again.
   * A stop waits for in-flight reconciles; a lost leadership resolves at once, without them.
   */
  async start(): Promise<ManagerExit> {
    this.started = true;
    const signal = this.stopping.signal;
    if (this.options.healthPort !== undefined) {
      this.health = await startHealthServer(
        { port: this.options.healthPort, host: this.options.healthHost },
        () => this.ready(),
        this.metrics.registry,
      );
    }
    const informersDone = [...this.informers.values()].map((informer) => informer.start(signal));
    let exit: ManagerExit = 'stopped';
    if (this.options.leaderElection) {
      const lease = this.options.leaderElection;
      this.metrics.leader.set({ name: lease.name }, 0);
      const result = await new LeaderElector(this.client, lease, this.log).run(signal, async (leading) => {
        this.metrics.leader.set({ name: lease.name }, 1);
        await this.runControllers(leading);
        this.metrics.leader.set({ name: lease.name }, 0);
      });
      // Controllers still draining are not waited for: the process exits now (main.ts), and their
      // aborted signal already stops every backend call, so two leaders never drive a backend.
      if (result === 'lost') {
        exit = 'leadership-lost';
        this.metrics.leader.set({ name: lease.name }, 0);
      }
    } else {
      await this.runControllers(signal);
    }
    this.stopping.abort();
    await Promise.all(informersDone);
    await this.health?.close();
    return exit;
  }

  private async runControllers(signal: AbortSignal): Promise<void> {
    await Promise.all([
      ...this.controllers.map((controller) => controller.run(signal)),
      ...this.runnables.map((runnable) => this.keepRunning(runnable.name, runnable.run, signal)),
    ]);
  }

  private async keepRunning(
    name: string,
    run: (signal: AbortSignal) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    const backoff = new Backoff(1000, 60_000);
    while (!signal.aborted) {
      try {
        await run(signal);
        return;
      } catch (error) {
        if (signal.aborted) break;
        const delay = backoff.next();
        this.log.error(
          {
            runnable: name,
            err: error instanceof Error ? error.message : String(error),
            retryInMs: Math.round(delay),
          },
          'runnable failed; restarting',
        );
        await sleep(delay, signal);
      }
    }
  }

  /** Graceful stop: no new reconciles, in-flight ones finish, the lease is released. */
  stop(): void {
    this.stopping.abort();
  }
}
