import type { KubeClient } from '../../../lib/kube/client.js';
import { startWebServer, type WebServer, type WebServerOptions } from '../../../web/server.js';
import { testClient } from '../kube.js';

/**
 * The web server in this process against the test cluster, on a free loopback port. `namespace`
 * is where it looks for the controllers' objects (the test's controller namespace).
 */
export function startTestWebServer(
  options: WebServerOptions & { namespace: string; kube?: KubeClient },
): Promise<WebServer> {
  return startWebServer({
    host: '127.0.0.1',
    port: 0,
    kube: options.kube ?? testClient(),
    processMetrics: false,
    ...options,
  });
}
