/**
 * Child process of the lifecycle-rss-2000 benchmark: the controller manager as controllers/main.ts
 * runs it (every controller and the chain watcher, product defaults, metrics server, no leader
 * election), with the in-memory InstantBackend in place of a hypervisor. It runs alone in its
 * process so the parent can read the manager's own peak RSS from /proc; SIGTERM stops it.
 * Environment: KUBECONFIG, NAMESPACE (the controller namespace: wallet Secret, Subscriptions),
 * HEALTH_PORT (of /metrics, where the parent reads the heap figures).
 */
import { registerControllers } from '../../controllers/setup.js';
import { KubeClient } from '../../lib/kube/client.js';
import { createLogger } from '../../lib/log.js';
import { Manager } from '../../lib/runtime/manager.js';
import { InstantBackend, instantBackendFactory } from '../harness/instant-backend.js';

const namespace = process.env.NAMESPACE;
if (!namespace) throw new Error('NAMESPACE is not set');
const log = createLogger('bench-lifecycle-manager');
const manager = new Manager({
  client: KubeClient.fromDefault(),
  log,
  healthPort: Number(process.env.HEALTH_PORT ?? '0'),
  healthHost: '127.0.0.1',
  // main.ts's default --resync.
  resyncMs: 36_000 * 1000,
});
const backend = new InstantBackend();
registerControllers(manager, {
  namespace,
  log,
  backendFactories: { [backend.type]: instantBackendFactory(backend) },
});
process.once('SIGTERM', () => manager.stop());
await manager.start();
process.exit(0);
