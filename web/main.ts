/**
 * The BlockHost web server: setup wizard, admin dashboard and signup page on one port.
 * Run `npx tsx web/main.ts --help`.
 */
import { parseArgs } from 'node:util';
import { createLogger } from '../lib/log.js';
import { startWebServer } from './server.js';

const usage = `Usage: web/main.ts [options]

Serves the signup page at /, the setup wizard and the admin dashboard under their prefixes, and
/healthz, /readyz (Kubernetes API reachable) and /metrics (Prometheus).

Options:
  --host <addr>            address to listen on (default 0.0.0.0)
  --port <n>               port (default 8080)
  --namespace <ns>         release namespace of the controller objects (default blockhost)
  --kubeconfig <path>      kubeconfig file (default: $KUBECONFIG, ~/.kube/config or in-cluster)
  --admin-prefix <path>    admin dashboard path (default /admin)
  --wizard-prefix <path>   setup wizard path (default /setup)
  --trust-proxy <list>     comma-separated addresses/CIDRs of the ingress proxies whose
                           X-Forwarded-* are believed (default: none). Rate limits key on the
                           right-most X-Forwarded-For hop outside them; Secure cookies need https
                           as the browser sees it, so set this behind a TLS-terminating ingress.
  -h, --help               show this help

Logs are JSON lines (pino); LOG_LEVEL=debug shows every request.`;

function parseCli() {
  try {
    return parseArgs({
      options: {
        host: { type: 'string', default: '0.0.0.0' },
        port: { type: 'string', default: '8080' },
        namespace: { type: 'string', default: 'blockhost' },
        kubeconfig: { type: 'string' },
        'admin-prefix': { type: 'string', default: '/admin' },
        'wizard-prefix': { type: 'string', default: '/setup' },
        'trust-proxy': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    process.exit(2);
  }
}

const values = parseCli();
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`--port must be a port number (0-65535), not ${JSON.stringify(values.port)}`);
  process.exit(2);
}
const trustProxy = values['trust-proxy'];

const log = createLogger('web');
const server = await startWebServer({
  host: values.host,
  port,
  namespace: values.namespace,
  kubeconfig: values.kubeconfig,
  adminPrefix: values['admin-prefix'],
  wizardPrefix: values['wizard-prefix'],
  ...(trustProxy && { trustProxy: trustProxy.split(',') }),
  log,
}).catch((error: unknown) => {
  log.fatal({ err: error }, 'web server failed to start');
  process.exit(1);
});
log.info({ url: server.url }, 'web server listening');

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping: finishing requests in flight');
  server.close().then(
    () => process.exit(0),
    (error: unknown) => {
      log.error({ err: error }, 'error while stopping');
      process.exit(1);
    },
  );
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
