// The client against a plain HTTP server that cuts connections, as an API server does when it sends
// GOAWAY or restarts: reads are sent again, writes never (they may have been applied).
import { afterEach, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeClient } from './client.js';
import type { KubeObject } from './object.js';
import { coreTypes } from './resource-types.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

/** A server that drops the first `cut` requests without answering; `seen` counts requests by method. */
async function cuttingServer(cut: number) {
  const seen: Record<string, number> = {};
  server = createServer((request, response) => {
    seen[request.method!] = (seen[request.method!] ?? 0) + 1;
    if (cut > 0) {
      cut -= 1;
      request.socket.destroy();
      return;
    }
    response.setHeader('content-type', 'application/json');
    response.end(
      JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'ns' } }),
    );
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        // client-node refuses plain http unless TLS checks are off (there is no TLS here).
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { kube: new KubeClient(kubeConfig), seen };
}

const configMap = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'x', namespace: 'ns' },
} as KubeObject;

describe('KubeClient on a connection that is cut', () => {
  it('sends a read again and returns its answer', async () => {
    const { kube, seen } = await cuttingServer(2);
    expect((await kube.get(coreTypes.configMap, 'x', 'ns')).metadata.name).toBe('x');
    expect(seen.GET).toBe(3);
  });

  it('gives up on a read after three retries, with the connection error', async () => {
    const { kube, seen } = await cuttingServer(10);
    await expect(kube.get(coreTypes.configMap, 'x', 'ns')).rejects.toThrow(/fetch failed/);
    expect(seen.GET).toBe(4);
  });

  it('never sends a write twice', async () => {
    const { kube, seen } = await cuttingServer(1);
    await expect(kube.create(coreTypes.configMap, configMap)).rejects.toThrow(/fetch failed/);
    expect(seen.POST).toBe(1);
  });
});
