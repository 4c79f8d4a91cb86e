import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const buildScript = join(dirname(fileURLToPath(import.meta.url)), 'build.sh');

/** Paths of the control-plane binaries, built from pinned Go modules on first use and cached per user. */
export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubectl: string;
  helm: string;
  /** The node's (test/harness/node): a real kubelet, scheduler, kube-proxy and cluster DNS. */
  kubeScheduler: string;
  kubelet: string;
  kubeProxy: string;
  coredns: string;
}

/**
 * Runs build.sh (a no-op when the cache is warm). Its progress lines go to our stderr so a cold
 * build of several minutes never looks like a hang; its last stdout line is the bin directory.
 */
export async function ensureControlPlaneBinaries(): Promise<ControlPlaneBinaries> {
  const child = spawn('bash', [buildScript], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0)
    throw new Error(`building the control-plane binaries failed (exit ${code}); see the output above`);
  const bin = stdout.trim().split('\n').at(-1);
  if (!bin) throw new Error('build.sh printed no bin directory');
  return {
    etcd: join(bin, 'etcd'),
    kubeApiserver: join(bin, 'kube-apiserver'),
    kubeControllerManager: join(bin, 'kube-controller-manager'),
    kubectl: join(bin, 'kubectl'),
    helm: join(bin, 'helm'),
    kubeScheduler: join(bin, 'kube-scheduler'),
    kubelet: join(bin, 'kubelet'),
    kubeProxy: join(bin, 'kube-proxy'),
    coredns: join(bin, 'coredns'),
  };
}
