import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import type { KubeClient } from '../../../../lib/kube/client.js';
import {
  kubevirtTypes,
  LAUNCHER_CREATED_BY_LABEL,
  type Pod,
  type VirtualMachineInstance,
} from './resource-types.js';

/** The virt-launcher container that runs libvirt and QEMU. */
export const COMPUTE_CONTAINER = 'compute';

/** The pods labelled as a VMI's launchers (virt-controller's label; anyone who may create pods can set it). */
async function labelledLaunchers(kube: KubeClient, vmi: VirtualMachineInstance): Promise<Pod[]> {
  const uid = vmi.metadata.uid;
  if (!uid) return [];
  const pods = await kube.list<Pod>(kubevirtTypes.pod, {
    namespace: vmi.metadata.namespace,
    labelSelector: `${LAUNCHER_CREATED_BY_LABEL}=${uid}`,
  });
  return pods.items;
}

/**
 * The running virt-launcher pod of a VMI. During a live migration two run; the one on the VMI's
 * node (which `status.activePods` also lists) is the source that still owns the guest.
 */
export async function findLauncherPod(
  kube: KubeClient,
  vmi: VirtualMachineInstance,
): Promise<Pod | undefined> {
  const pods = await labelledLaunchers(kube, vmi);
  const active = new Set(Object.keys(vmi.status?.activePods ?? {}));
  const running = pods.filter(
    (pod) => pod.status?.phase === 'Running' && (active.size === 0 || active.has(pod.metadata.uid ?? '')),
  );
  return running.find((pod) => pod.spec?.nodeName === vmi.status?.nodeName) ?? running[0];
}

/**
 * The launcher pod whose IP a pod-network guest is reached at: the only running pod labelled for the
 * VMI and controlled by it. Unlike findLauncherPod this trusts nothing from the VMI's status (VMIs
 * have no status subresource, so whoever may edit a VMI may write it); two candidates (a migration,
 * or a look-alike someone made) mean no answer rather than a guess.
 */
export async function findPodNetworkLauncher(
  kube: KubeClient,
  vmi: VirtualMachineInstance,
): Promise<Pod | undefined> {
  const uid = vmi.metadata.uid;
  const candidates = (await labelledLaunchers(kube, vmi)).filter(
    (pod) =>
      pod.status?.phase === 'Running' &&
      !pod.metadata.deletionTimestamp &&
      pod.metadata.ownerReferences?.some((ref) => ref.controller === true && ref.uid === uid),
  );
  return candidates.length === 1 ? candidates[0] : undefined;
}

export interface ExecOutput {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A container of a pod, as pods/exec addresses it. */
export interface PodContainer {
  namespace: string;
  name: string;
  container: string;
}

/** Runs a command in a container; rejects when no exit code comes back (the exec itself failed). */
export type ContainerExec = (pod: PodContainer, command: string[], timeoutMs: number) => Promise<ExecOutput>;

function collector(chunks: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
}

/** The exit code in a pods/exec Status: Success, or NonZeroExitCode with the code as a cause. */
export function exitCodeOf(status: V1Status): number | undefined {
  if (status.status === 'Success') return 0;
  if (status.reason !== 'NonZeroExitCode') return undefined;
  const code = Number(status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message);
  return Number.isInteger(code) ? code : undefined;
}

/** Runs `command` in a container through pods/exec (a websocket to the API server, then the kubelet). */
export function execInContainer(
  kubeConfig: KubeConfig,
  pod: PodContainer,
  command: string[],
  timeoutMs: number,
): Promise<ExecOutput> {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let status: V1Status | undefined;
  return new Promise<ExecOutput>((resolve, reject) => {
    new Exec(kubeConfig)
      .exec(
        pod.namespace,
        pod.name,
        pod.container,
        command,
        collector(stdout),
        collector(stderr),
        null,
        false,
        (s) => (status = s),
      )
      .then(
        (socket) => {
          const timer = setTimeout(() => {
            socket.close();
            reject(new Error(`exec in ${pod.namespace}/${pod.name} gave no answer within ${timeoutMs} ms`));
          }, timeoutMs);
          socket.on('close', () => {
            clearTimeout(timer);
            const exitCode = status && exitCodeOf(status);
            if (exitCode === undefined) {
              reject(
                new Error(
                  `exec in ${pod.namespace}/${pod.name} failed: ${status?.message ?? 'no exit status'}`,
                ),
              );
              return;
            }
            resolve({
              exitCode,
              stdout: Buffer.concat(stdout).toString('utf8'),
              stderr: Buffer.concat(stderr).toString('utf8'),
            });
          });
        },
        (error: unknown) =>
          reject(new Error(`exec in ${pod.namespace}/${pod.name}: ${socketErrorText(error)}`)),
      );
  });
}

/** The websocket's error event, as text: the ws ErrorEvent carries a message, not an Error. */
function socketErrorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}
