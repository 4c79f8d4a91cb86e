import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import {
  blockhostTypes,
  SUBSCRIPTION_PHASES,
  VM_PHASES,
  type HostConfig,
  type Subscription,
  type VM,
} from '../../lib/api/v1alpha1/index.js';
import { isNotFound } from '../../lib/kube/errors.js';
import type { KubeObject } from '../../lib/kube/object.js';
import { coreTypes } from '../../lib/kube/resource-types.js';
import { checkpointName, type Checkpoint } from '../../lib/chain/checkpoint.js';
import type { FaceContext } from '../face.js';
import type { ChainClients } from './chain-clients.js';
import { adminChainOf, requireHostConfig, type AdminChain } from './host.js';
import { scanRevenue, type Revenue } from './revenue.js';
import { tokenInfo, type TokenInfo } from './token.js';

const REVENUE_CACHE_MS = 60_000;
const CHART_DAYS = 30;
const DAY_MS = 86_400_000;

export interface ChainLag {
  head?: string;
  checkpoint?: string;
  /** head - checkpoint: blocks the chain watcher has yet to process (includes the confirmations). */
  lagBlocks?: string;
  confirmations: number;
  error?: string;
}

export type RevenueResult = { revenue: Revenue; stablecoin?: TokenInfo } | { error: string };

/** What GET /api/overview answers (the page imports this type). */
export interface OverviewResponse {
  host: {
    hostname?: string;
    chainId: number;
    backend: string;
    ready: boolean;
    message?: string;
    signupUrl?: string;
    serverAddress?: string;
  };
  chain: ChainLag;
  subscriptions: Record<string, number>;
  vms: Record<string, number>;
  revenue: RevenueResult;
}

/** Counts per phase, every phase listed (zeros included) so the page's layout is stable. */
function countPhases<P extends string>(phases: readonly P[], values: (P | undefined)[]): Record<P, number> {
  const counts = Object.fromEntries(phases.map((p) => [p, 0])) as Record<P, number>;
  for (const value of values) counts[value ?? phases[0]!] += 1;
  return counts;
}

/** Per day for the last CHART_DAYS days: how many objects were created that day, and in total by then. */
export function dailySeries(
  timestamps: string[],
  now: number,
): { day: string; added: number; total: number }[] {
  const today = Math.floor(now / DAY_MS);
  const days = Array.from({ length: CHART_DAYS }, (_, i) => today - CHART_DAYS + 1 + i);
  const created = timestamps.map((t) => Math.floor(Date.parse(t) / DAY_MS)).filter(Number.isFinite);
  let total = created.filter((day) => day < days[0]!).length;
  return days.map((day) => {
    const added = created.filter((d) => d === day).length;
    total += added;
    return { day: new Date(day * DAY_MS).toISOString().slice(0, 10), added, total };
  });
}

/** Overview page API: host summary, chain lag, phases, revenue, and the charts' data. */
export function registerOverviewRoutes(
  app: FastifyInstance,
  context: FaceContext,
  requireAdmin: preHandlerAsyncHookHandler,
  clients: ChainClients,
): void {
  const { kube, namespace } = context;
  // The checkpoint lives in the controller's state namespace, which the web may only read (chart:
  // STATE_NAMESPACE; docs/controller-state.md). Without it, the controller shares `namespace`.
  const stateNamespace = process.env.STATE_NAMESPACE || namespace;
  let revenueCache: { key: string; at: number; value: Revenue } | undefined;

  async function chainLag(host: HostConfig, chain: AdminChain): Promise<ChainLag> {
    const confirmations = host.spec.chain.confirmations;
    const lag: ChainLag = { confirmations };
    try {
      lag.head = String(await clients.for(chain).getBlockNumber());
    } catch {
      lag.error = 'the chain RPC endpoints do not answer';
    }
    if (chain.subscriptions) {
      try {
        const map = await kube.get<KubeObject & { data?: { checkpoint?: string } }>(
          coreTypes.configMap,
          checkpointName(chain.chainId, chain.subscriptions),
          stateNamespace,
        );
        const checkpoint = JSON.parse(map.data?.checkpoint ?? 'null') as Checkpoint | null;
        if (checkpoint) lag.checkpoint = String(checkpoint.block.number);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    if (lag.head !== undefined && lag.checkpoint !== undefined)
      lag.lagBlocks = String(BigInt(lag.head) - BigInt(lag.checkpoint));
    else if (lag.head !== undefined) lag.error ??= 'the chain watcher has not stored a checkpoint yet';
    return lag;
  }

  async function revenue(chain: AdminChain, head: string | undefined): Promise<RevenueResult> {
    if (!chain.subscriptions || head === undefined) return { error: 'the chain cannot be read' };
    const key = `${chain.chainId}:${chain.subscriptions}`;
    const client = clients.for(chain);
    try {
      if (!revenueCache || revenueCache.key !== key || context.now() - revenueCache.at >= REVENUE_CACHE_MS) {
        const value = await scanRevenue(
          client,
          chain.subscriptions,
          BigInt(chain.startBlock ?? 0),
          BigInt(head),
        );
        revenueCache = { key, at: context.now(), value };
      }
      const stablecoin = chain.stablecoin ? await tokenInfo(client, chain.stablecoin) : undefined;
      return { revenue: revenueCache.value, ...(stablecoin && { stablecoin }) };
    } catch (error) {
      context.log.warn({ err: String(error) }, 'revenue scan failed');
      return { error: 'the purchase events could not be read from the chain' };
    }
  }

  app.get('/api/overview', { preHandler: requireAdmin }, async (): Promise<OverviewResponse> => {
    const host = await requireHostConfig(kube);
    const chain = adminChainOf(host);
    const [vms, subscriptions, lag] = await Promise.all([
      kube.list<VM>(blockhostTypes.vm, { namespace }),
      kube.list<Subscription>(blockhostTypes.subscription, { namespace }),
      chainLag(host, chain),
    ]);
    const ready = host.status?.conditions?.find((c) => c.type === 'Ready');
    return {
      host: {
        hostname: host.spec.signup?.hostname,
        chainId: chain.chainId,
        backend: host.spec.backend.type,
        ready: ready?.status === 'True',
        message: host.status?.message ?? ready?.message,
        signupUrl: host.status?.signupUrl,
        serverAddress: host.status?.serverAddress,
      },
      chain: lag,
      subscriptions: countPhases(
        SUBSCRIPTION_PHASES,
        subscriptions.items.map((s) => s.status?.phase),
      ),
      vms: countPhases(
        VM_PHASES,
        vms.items.map((vm) => vm.status?.phase),
      ),
      revenue: await revenue(chain, lag.head),
    };
  });

  app.get('/api/charts', { preHandler: requireAdmin }, async () => {
    const [vms, subscriptions] = await Promise.all([
      kube.list<VM>(blockhostTypes.vm, { namespace }),
      kube.list<Subscription>(blockhostTypes.subscription, { namespace }),
    ]);
    const created = (items: KubeObject[]) =>
      items.map((item) => item.metadata.creationTimestamp).filter((t): t is string => t !== undefined);
    return {
      vms: dailySeries(created(vms.items), context.now()),
      purchases: dailySeries(created(subscriptions.items), context.now()),
    };
  });
}
