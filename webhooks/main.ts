/**
 * The BlockHost admission webhook server. `--help` lists the options.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../lib/kube/client.js';
import { createLogger } from '../lib/log.js';
import { startWebhookServer } from './server.js';

const usage = `Usage: webhooks [options]

Serves the BlockHost admission webhooks over HTTPS: POST /mutate and POST /validate
(AdmissionReview admission.k8s.io/v1 for HostConfig, Plan, Subscription and VM), and
GET /healthz, /readyz and /metrics.

Options:
  --port <n>               HTTPS port (default 9443)
  --host <address>         address to bind to (default 0.0.0.0)
  --tls-cert-file <path>   PEM serving certificate (required)
  --tls-key-file <path>    PEM private key of that certificate (required)
  --kubeconfig <path>      kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --namespace <ns>         release namespace, where the chain watcher keeps Subscriptions
                           (default $POD_NAMESPACE or blockhost)
  -h, --help               show this help

Environment: LOG_LEVEL (trace|debug|info|warn|error, default info).
Exit status: 0 after SIGTERM/SIGINT, 1 when start-up failed, 2 on bad arguments.`;

/** Bounded lookups: an answer must reach the apiserver well within the webhook timeout (10 s). */
const LOOKUP_TIMEOUT_MS = 4000;

function fail(message: string): never {
  console.error(`${message}\n\n${usage}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      port: { type: 'string', default: '9443' },
      host: { type: 'string', default: '0.0.0.0' },
      'tls-cert-file': { type: 'string' },
      'tls-key-file': { type: 'string' },
      kubeconfig: { type: 'string' },
      namespace: { type: 'string', default: process.env.POD_NAMESPACE ?? 'blockhost' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  fail((error as Error).message);
}

if (values.help) {
  console.log(usage);
  process.exit(0);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535)
  fail(`--port must be a whole number from 0 to 65535, got "${values.port}"`);
if (!values['tls-cert-file'] || !values['tls-key-file'])
  fail('--tls-cert-file and --tls-key-file are required: the apiserver calls webhooks over HTTPS only');

const log = createLogger('webhooks');
const kubeConfig = new KubeConfig();
if (values.kubeconfig) kubeConfig.loadFromFile(values.kubeconfig);
else kubeConfig.loadFromDefault();

const [cert, key] = await Promise.all([
  readFile(values['tls-cert-file']),
  readFile(values['tls-key-file']),
]).catch((error: unknown) => fail(`cannot read the TLS files: ${(error as Error).message}`));

const server = await startWebhookServer({
  kube: new KubeClient(kubeConfig, LOOKUP_TIMEOUT_MS),
  tls: { cert, key },
  host: values.host,
  port,
  releaseNamespace: values.namespace,
  log,
  processMetrics: true,
}).catch((error: unknown) => {
  log.error({ err: error }, 'webhook server failed to start');
  process.exit(1);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
