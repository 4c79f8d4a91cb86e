// The virt-launcher side of the KubeVirt simulator: the launcher Pod object virt-controller makes
// for each VMI, the guest it boots from the VM's cloud-init, and pods/exec into its compute
// container, where only virsh is modelled. Without a kubelet the pods are objects only; on the
// harness node (`realPods`) a kubelet runs them and their virsh relays here (exec-relay.ts).
import type { ContainerExec } from '../../../controllers/vm/backends/kubevirt/launcher.js';
import {
  kubevirtTypes,
  LAUNCHER_CREATED_BY_LABEL,
  type Pod,
  type VirtualMachine,
  type VirtualMachineInstance,
} from '../../../controllers/vm/backends/kubevirt/resource-types.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { isAlreadyExists, isNotFound } from '../../../lib/kube/errors.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { controllerReference } from '../../../lib/runtime/owners.js';
import { SimulatedGuest } from '../proxmox/guest.js';
import type { NoCloudFiles } from '../proxmox/seed-reader.js';
import { GuestAgent } from './qga.js';
import { virsh } from './virsh.js';
import { RELAY_URL_ENV, SHIM_DIR, VIRSH_SHIM } from './exec-relay.js';

const COMPUTE = 'compute';
/** The ConfigMap with the virsh shim, made in each VM namespace that gets a real launcher pod. */
const SHIM_CONFIG_MAP = 'kubevirt-simulator-virsh';

/** Launcher pods a kubelet runs: an image on the node with Node.js, and where their virsh relays to. */
export interface RealLauncherPods {
  image: string;
  relayUrl: string;
}
const keyOf = (object: KubeObject) => `${object.metadata.namespace}/${object.metadata.name}`;
const agentConnected = (vmi: VirtualMachineInstance | undefined) =>
  vmi?.status?.conditions?.some((c) => c.type === 'AgentConnected' && c.status === 'True') === true;

/** The cloud-init NoCloud data KubeVirt serves the guest from the VM's Secrets. */
export async function readSeed(kube: KubeClient, vm: VirtualMachine): Promise<NoCloudFiles> {
  const noCloud = vm.spec.template.spec?.volumes?.find((v) => v.cloudInitNoCloud)?.cloudInitNoCloud;
  const secretData = async (name: string | undefined, keys: string[]) => {
    if (!name) return undefined;
    const secret = await kube
      .get<KubeObject & { data?: Record<string, string> }>(coreTypes.secret, name, vm.metadata.namespace)
      .catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
    const value = keys.map((key) => secret?.data?.[key]).find((v) => v !== undefined);
    return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
  };
  return {
    // KubeVirt writes meta-data itself; the instance id stays the same for every VMI of the VM.
    metaData: `instance-id: ${vm.metadata.uid}\nlocal-hostname: ${vm.metadata.name}\n`,
    userData: await secretData(noCloud?.secretRef?.name, ['userdata', 'userData']),
    networkConfig: await secretData(noCloud?.networkDataSecretRef?.name, ['networkdata', 'networkData']),
  };
}

/** A containerDisk root is ephemeral: every VMI boots the image afresh. */
const persistentRoot = (vm: VirtualMachine) =>
  vm.spec.template.spec?.volumes?.some((v) => v.dataVolume ?? v.persistentVolumeClaim) === true;

export class Launchers {
  /** By VM namespace/name: the VM's uid (a VM made again under the name gets a new disk) and guest. */
  private readonly guests = new Map<string, { vmUid: string; guest: SimulatedGuest }>();
  /** qemu-ga of each booted VMI, by VMI uid; gone when the agent stopped. */
  private readonly agents = new Map<string, GuestAgent>();
  private readonly booted = new Set<string>();

  constructor(
    private readonly kube: KubeClient,
    private readonly realPods?: RealLauncherPods,
  ) {}

  /** virt-controller's launcher pod for a new VMI (no kubelet: it stays Pending until `boot`). */
  async create(vmi: VirtualMachineInstance): Promise<void> {
    const uid = vmi.metadata.uid ?? '';
    if (this.realPods) await this.ensureShim(vmi.metadata.namespace ?? '');
    await this.kube
      .create(kubevirtTypes.pod, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: podName(vmi),
          namespace: vmi.metadata.namespace,
          labels: {
            ...vmi.metadata.labels,
            'kubevirt.io': 'virt-launcher',
            [LAUNCHER_CREATED_BY_LABEL]: uid,
          },
          ownerReferences: [controllerReference(vmi, kubevirtTypes.virtualMachineInstance)],
        },
        // No nodeName: without a kubelet, a pod bound to a node could only be deleted by that
        // node's kubelet; with one, the scheduler binds it.
        spec: this.realPods
          ? realPodSpec(this.realPods)
          : {
              automountServiceAccountToken: false,
              containers: [{ name: COMPUTE, image: 'quay.io/kubevirt/virt-launcher:v1.7.0' }],
            },
      } as KubeObject)
      .catch((error: unknown) => {
        if (!isAlreadyExists(error)) throw error;
      });
  }

  private async ensureShim(namespace: string): Promise<void> {
    await this.kube
      .create(coreTypes.configMap, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: SHIM_CONFIG_MAP, namespace },
        data: { virsh: VIRSH_SHIM },
      } as KubeObject)
      .catch((error: unknown) => {
        if (!isAlreadyExists(error)) throw error;
      });
  }

  /**
   * The pod runs and the guest boots from the VM's cloud-init; resolves to the pod (for the VMI's
   * status.activePods, nodeName and the pod IP), or undefined while a kubelet has yet to start it. Booting a
   * VMI twice is a no-op.
   */
  async boot(vm: VirtualMachine, vmi: VirtualMachineInstance, podIp: string): Promise<Pod | undefined> {
    // Without a kubelet, the simulator reports the pod running with `podIp`, as a kubelet would.
    const pod = this.realPods
      ? await this.kube.get<Pod>(kubevirtTypes.pod, podName(vmi), vmi.metadata.namespace)
      : await this.kube.patch<Pod>(
          kubevirtTypes.pod,
          podName(vmi),
          vmi.metadata.namespace,
          { status: { phase: 'Running', podIP: podIp, podIPs: [{ ip: podIp }] } },
          'merge',
          { subresource: 'status' },
        );
    if (pod.status?.phase !== 'Running') return undefined;
    const uid = vmi.metadata.uid ?? '';
    if (!this.booted.has(uid)) {
      const vmUid = vm.metadata.uid ?? '';
      const previous = this.guests.get(keyOf(vm));
      const guest = previous?.vmUid === vmUid && persistentRoot(vm) ? previous.guest : new SimulatedGuest();
      guest.boot(await readSeed(this.kube, vm));
      this.guests.set(keyOf(vm), { vmUid, guest });
      this.agents.set(uid, new GuestAgent(guest));
      this.booted.add(uid);
    }
    return pod;
  }

  /** The guest of the VM `namespace/name` (the latest boot's), for tests acting inside it. */
  guest(namespace: string, name: string): SimulatedGuest | undefined {
    return this.guests.get(`${namespace}/${name}`)?.guest;
  }

  /** qemu-ga dies in the guest; the VMI's AgentConnected condition lags behind, as virt-handler's does. */
  stopAgent(vmi: VirtualMachineInstance): void {
    this.agents.delete(vmi.metadata.uid ?? '');
  }

  /** pods/exec into a launcher pod of this simulator; other pods have no kubelet to run anything. */
  readonly exec: ContainerExec = async (target, command) => {
    const pod = await this.kube.get<Pod>(kubevirtTypes.pod, target.name, target.namespace);
    const uid = pod.metadata.labels?.[LAUNCHER_CREATED_BY_LABEL] ?? '';
    const vmiName = pod.metadata.ownerReferences?.find((r) => r.kind === 'VirtualMachineInstance')?.name;
    if (!vmiName || !this.booted.has(uid))
      throw new Error(`no kubelet runs pod ${target.namespace}/${target.name}`);
    if (!pod.spec?.containers?.some((c) => c.name === target.container))
      throw new Error(`container ${target.container} is not valid for pod ${target.name}`);
    const vmi = await this.kube
      .get<VirtualMachineInstance>(kubevirtTypes.virtualMachineInstance, vmiName, target.namespace)
      .catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
    const running = vmi?.metadata.uid === uid && vmi.status?.phase === 'Running';
    return virsh(command, {
      name: `${target.namespace}_${vmiName}`,
      running,
      agent: running && agentConnected(vmi) ? this.agents.get(uid) : undefined,
    });
  };
}

/**
 * A compute container that idles until deleted, with the relaying virsh first on its PATH and the
 * pod's own name and namespace for the relay to find its guest.
 */
function realPodSpec({ image, relayUrl }: RealLauncherPods): object {
  return {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: 1,
    containers: [
      {
        name: COMPUTE,
        image,
        imagePullPolicy: 'Never',
        command: [
          '/usr/local/bin/node',
          '-e',
          "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 2 ** 30);",
        ],
        env: [
          { name: 'PATH', value: `${SHIM_DIR}:/usr/local/bin:/usr/bin:/bin` },
          { name: RELAY_URL_ENV, value: relayUrl },
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        ],
        volumeMounts: [{ name: 'virsh', mountPath: SHIM_DIR, readOnly: true }],
      },
    ],
    volumes: [{ name: 'virsh', configMap: { name: SHIM_CONFIG_MAP, defaultMode: 0o555 } }],
  };
}

/** virt-launcher-<vmi>-<5 characters>; from the VMI's uid, so a retried create finds its pod. */
const podName = (vmi: VirtualMachineInstance) =>
  `virt-launcher-${vmi.metadata.name}-${(vmi.metadata.uid ?? '').slice(0, 5)}`;
