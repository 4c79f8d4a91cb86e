// For the KubeVirt simulator on the harness node: its launcher pods run for real (a kubelet starts
// them, pods/exec reaches them through the API server and the kubelet), but the guest behind them is
// the simulator's. `virsh` in each pod is this relay's shim: it posts its arguments here and the
// simulator's launcher exec answers, as libvirt in a real virt-launcher would.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ContainerExec, ExecOutput } from '../../../controllers/vm/backends/kubevirt/launcher.js';

/** The directory the shim is mounted at in each launcher pod, first on its PATH. */
export const SHIM_DIR = '/opt/kubevirt-simulator';
/** The environment variable that tells the shim where the relay listens. */
export const RELAY_URL_ENV = 'KUBEVIRT_SIMULATOR_RELAY';

/**
 * `virsh` for the launcher pods: a Node script (the pods run the controller image, which has Node at
 * /usr/local/bin/node). An unreachable relay is what an unreachable libvirtd is to real virsh: exit 1.
 */
export const VIRSH_SHIM = `#!/usr/local/bin/node
const body = JSON.stringify({
  namespace: process.env.POD_NAMESPACE,
  pod: process.env.POD_NAME,
  container: 'compute',
  command: ['virsh', ...process.argv.slice(2)],
});
fetch(process.env.${RELAY_URL_ENV}, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  .then((response) => response.json())
  .then(
    (out) => {
      process.stdout.write(out.stdout);
      process.stderr.write(out.stderr);
      process.exitCode = out.exitCode;
    },
    (error) => {
      process.stderr.write('error: failed to connect to the hypervisor: ' + error.message + '\\n');
      process.exitCode = 1;
    },
  );
`;

interface RelayCall {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
}

function isRelayCall(value: unknown): value is RelayCall {
  const call = value as Partial<RelayCall> | null;
  return (
    typeof call?.namespace === 'string' &&
    typeof call.pod === 'string' &&
    typeof call.container === 'string' &&
    Array.isArray(call.command) &&
    call.command.every((part) => typeof part === 'string')
  );
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

export interface ExecRelay {
  /** What the shim posts to (RELAY_URL_ENV in the launcher pods). */
  url: string;
  stop(): Promise<void>;
}

/** Listens on `host` (an address the node's pods reach) and answers each shim call with `exec`. */
export async function startExecRelay(host: string, exec: ContainerExec): Promise<ExecRelay> {
  const server = createServer((request, response) => {
    void (async () => {
      let out: ExecOutput;
      try {
        const call = await readJson(request);
        if (!isRelayCall(call)) throw new Error('not a virsh call from a launcher pod');
        out = await exec(
          { namespace: call.namespace, name: call.pod, container: call.container },
          call.command,
          30_000,
        );
      } catch (error) {
        out = { exitCode: 1, stdout: '', stderr: `error: ${(error as Error).message}\n` };
      }
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(out));
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/virsh`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
