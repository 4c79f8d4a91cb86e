/**
 * The BlockHost controller manager: one process, leader-elected, running every reconciler.
 * `--help` lists the options.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { KubeClient } from '../lib/kube/client.js';
import { createLogger } from '../lib/log.js';
import { Manager } from '../lib/runtime/manager.js';
import { registerControllers } from './setup.js';
import { DEFAULT_CALL_DEADLINES } from './vm/backends/bounded.js';

const usage = `Usage: controller-manager [options]

Runs the BlockHost controllers against the cluster of the kubeconfig (or in-cluster config).

Options:
  --kubeconfig <path>                 kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --health-port <port>                port of /healthz, /readyz and /metrics (default 8081)
  --health-host <address>             address to bind it to (default 0.0.0.0)
  --leader-elect <true|false>         campaign for the Lease before reconciling (default true)
  --leader-election-namespace <ns>    namespace of the Lease, the Subscriptions and what the web
                                      hands over (default $POD_NAMESPACE or blockhost)
  --state-namespace <ns>              the controller's private namespace: server wallet Secret,
                                      transaction intents, chain checkpoint, address claims; only
                                      this process may write there (default $STATE_NAMESPACE, else
                                      the leader-election namespace)
  --identity <id>                     this replica's name in the Lease (default hostname_pid)
  --resync <seconds>                  re-reconcile every object this often (default 36000)
  --backend-read-timeout <seconds>    deadline of a VM backend observe or guest agent call (default 20)
  --backend-change-timeout <seconds>  deadline of a VM backend create, update, power or delete
                                      (default 2100: a Proxmox clone may wait 30 min for its task)
  -h, --help                          show this help

Environment: LOG_LEVEL (trace|debug|info|warn|error, default info).
Exit status: 0 after SIGTERM/SIGINT, 1 when leadership was lost or start-up failed.`;

const { values } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    'health-port': { type: 'string', default: '8081' },
    'health-host': { type: 'string', default: '0.0.0.0' },
    'leader-elect': { type: 'string', default: 'true' },
    'leader-election-namespace': { type: 'string', default: process.env.POD_NAMESPACE ?? 'blockhost' },
    'state-namespace': { type: 'string', default: process.env.STATE_NAMESPACE },
    identity: { type: 'string', default: `${hostname()}_${process.pid}` },
    resync: { type: 'string', default: '36000' },
    'backend-read-timeout': { type: 'string', default: String(DEFAULT_CALL_DEADLINES.readMs / 1000) },
    'backend-change-timeout': { type: 'string', default: String(DEFAULT_CALL_DEADLINES.changeMs / 1000) },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log(usage);
  process.exit(0);
}

const log = createLogger('controller-manager');

function parseInteger(text: string, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`${flag} must be a whole number from ${min} to ${max}, got "${text}"\n\n${usage}`);
    process.exit(2);
  }
  return value;
}

if (!['true', 'false'].includes(values['leader-elect'])) {
  console.error(`--leader-elect must be true or false, got "${values['leader-elect']}"`);
  process.exit(2);
}

const client = values.kubeconfig ? KubeClient.fromFile(values.kubeconfig) : KubeClient.fromDefault();
const manager = new Manager({
  client,
  log,
  healthPort: parseInteger(values['health-port'], '--health-port', 0, 65535),
  healthHost: values['health-host'],
  resyncMs: parseInteger(values.resync, '--resync', 0, 30 * 86400) * 1000,
  leaderElection:
    values['leader-elect'] === 'true'
      ? {
          namespace: values['leader-election-namespace'],
          name: 'blockhost-controller-manager',
          identity: values.identity,
        }
      : undefined,
});
registerControllers(manager, {
  namespace: values['leader-election-namespace'],
  stateNamespace: values['state-namespace'],
  log,
  vm: {
    callDeadlines: {
      readMs: parseInteger(values['backend-read-timeout'], '--backend-read-timeout', 1, 3600) * 1000,
      changeMs: parseInteger(values['backend-change-timeout'], '--backend-change-timeout', 1, 86400) * 1000,
    },
  },
});

// A bug in one reconcile must never take the process down; the controller already contains
// reconcile errors, this catches stray promises elsewhere.
process.on('unhandledRejection', (reason) =>
  log.error({ err: String(reason) }, 'unhandled promise rejection'),
);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'shutting down');
    manager.stop();
  });
}

log.info({ identity: values.identity, leaderElect: values['leader-elect'] }, 'starting controller manager');
const exit = await manager.start();
if (exit === 'leadership-lost')
  log.error('leadership lost: exiting at once, without waiting for reconciles, so a fresh process campaigns');
else log.info({ exit }, 'controller manager stopped');
process.exit(exit === 'stopped' ? 0 : 1);
