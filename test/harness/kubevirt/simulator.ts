// Test-only stand-in for KubeVirt's virt-controller and virt-handler, which cannot run without a
// kubelet and KVM: it turns VirtualMachines into VirtualMachineInstances and moves both through the
// states KubeVirt documents, against the real API server and KubeVirt's real CRDs. Each VMI gets a
// launcher Pod object and a simulated guest booted from the VM's cloud-init (launchers.ts), whose
// agent answers virsh through `launcherExec`. Never in the product.
import { parse } from 'yaml';
import type { ContainerExec } from '../../../controllers/vm/backends/kubevirt/launcher.js';
import {
  kubevirtTypes,
  type VirtualMachine,
  type VirtualMachineInstance,
} from '../../../controllers/vm/backends/kubevirt/resource-types.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import { isNotFound } from '../../../lib/kube/errors.js';
import type { ResourceType } from '../../../lib/kube/resource-types.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { createLogger } from '../../../lib/log.js';
import type { Request, ReconcileResult } from '../../../lib/runtime/controller.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { controllerReference } from '../../../lib/runtime/owners.js';
import type { SimulatedGuest } from '../proxmox/guest.js';
import { eventually } from '../kube.js';
import { Launchers, readSeed, type RealLauncherPods } from './launchers.js';

export interface KubevirtSimulatorOptions {
  kube: KubeClient;
  /** Only VMs in this namespace (test files share one API server); absent: all namespaces. */
  namespace?: string;
  /** From VMI Running until the guest agent connects. */
  agentDelayMs?: number;
  /** From VMI Scheduling until Running (pod start and boot). */
  bootDelayMs?: number;
  /** Graceful guest shutdown after runStrategy Halted. */
  shutdownDelayMs?: number;
  /** Pod IPs handed out in turn to VMIs without static addresses in their cloud-init network config. */
  ipPool?: string[];
  /**
   * Launcher pods that a kubelet runs (the harness node): VMIs run on the pod's node with its IP, and
   * pods/exec reaches virsh in them for real. Without it the pods are objects no kubelet starts.
   */
  realPods?: RealLauncherPods;
}

/** The node every VMI runs on when no kubelet runs the launcher pods. */
const NODE = 'node01';

type Phase = 'Pending' | 'Scheduling' | 'Scheduled' | 'Running' | 'Succeeded' | 'Failed';

interface VmiCondition {
  type: string;
  status: 'True' | 'False';
  reason?: string;
  message?: string;
}

const isFinal = (vmi: VirtualMachineInstance): boolean =>
  vmi.status?.phase === 'Succeeded' || vmi.status?.phase === 'Failed';

const wantsRunning = (vm: VirtualMachine): boolean =>
  vm.spec.runStrategy === undefined ? vm.spec.running === true : vm.spec.runStrategy !== 'Halted';

async function getOptional<T extends KubeObject>(
  kube: KubeClient,
  type: ResourceType,
  name: string,
  namespace: string,
): Promise<T | undefined> {
  return kube.get<T>(type, name, namespace).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
}

/** Static addresses from the VM's cloud-init network config, which the guest agent would report. */
function staticAddresses(networkData: string | undefined): string[] {
  if (!networkData) return [];
  const config = parse(networkData) as { ethernets?: Record<string, { addresses?: string[] }> } | null;
  return Object.values(config?.ethernets ?? {})
    .flatMap((ethernet) => ethernet.addresses ?? [])
    .map((cidr) => cidr.split('/')[0] ?? cidr);
}

export class KubevirtSimulator {
  private readonly startedAt = new Map<string, { phase: Phase; at: number }>();
  private readonly stopRequestedAt = new Map<string, number>();
  private readonly podIps = new Map<string, string>();
  private readonly unschedulable = new Set<string>();
  private nextIp = 0;
  private running?: Promise<unknown>;
  private readonly launchers: Launchers;

  private constructor(
    private readonly options: Required<Omit<KubevirtSimulatorOptions, 'namespace' | 'realPods'>> &
      Pick<KubevirtSimulatorOptions, 'namespace' | 'realPods'>,
    private readonly manager: Manager,
  ) {
    this.launchers = new Launchers(options.kube, options.realPods);
  }

  /** pods/exec into the launcher pods, where `virsh qemu-agent-command` reaches each guest's agent. */
  get launcherExec(): ContainerExec {
    return this.launchers.exec;
  }

  /** The guest of VM `name` as it last booted (cloud-init applied), or undefined before its first boot. */
  guest(name: string, namespace = this.requireNamespace()): SimulatedGuest | undefined {
    return this.launchers.guest(namespace, name);
  }

  /** The guest agent of VM `name` stops answering while its VMI still says AgentConnected. */
  async stopAgent(name: string, namespace = this.requireNamespace()): Promise<void> {
    this.launchers.stopAgent(
      await this.options.kube.get<VirtualMachineInstance>(
        kubevirtTypes.virtualMachineInstance,
        name,
        namespace,
      ),
    );
  }

  static async start(options: KubevirtSimulatorOptions): Promise<KubevirtSimulator> {
    const manager = new Manager({
      client: options.kube,
      log: createLogger('kubevirt-simulator', { level: process.env.LOG_LEVEL ?? 'warn' }),
      metrics: new RuntimeMetrics({ processMetrics: false }),
    });
    const simulator = new KubevirtSimulator(
      {
        agentDelayMs: 300,
        bootDelayMs: 100,
        shutdownDelayMs: 300,
        ipPool: Array.from({ length: 200 }, (_, i) => `10.244.0.${i + 10}`),
        ...options,
      },
      manager,
    );
    manager.addController<VirtualMachine>({
      name: 'kubevirt-simulator',
      for: kubevirtTypes.virtualMachine,
      owns: [kubevirtTypes.virtualMachineInstance],
      workers: 4,
      reconcile: (request) => simulator.reconcile(request),
    });
    simulator.running = manager.start();
    await eventually('the KubeVirt simulator caches', () => manager.ready());
    return simulator;
  }

  async stop(): Promise<void> {
    this.manager.stop();
    await this.running;
  }

  /** The guest dies behind everyone's back: its VMI goes away (virt-controller restarts it under Always). */
  async crashGuest(name: string, namespace = this.requireNamespace()): Promise<void> {
    await this.options.kube.delete(kubevirtTypes.virtualMachineInstance, name, namespace);
  }

  /** From now on the VMI of `name` finds no node (its pod stays unschedulable). */
  failSchedulingFor(name: string, namespace = this.requireNamespace()): void {
    this.unschedulable.add(`${namespace}/${name}`);
  }

  private requireNamespace(): string {
    if (!this.options.namespace) throw new Error('name the namespace: this simulator serves all namespaces');
    return this.options.namespace;
  }

  private async reconcile({ namespace, name }: Request): Promise<ReconcileResult> {
    if (!namespace || (this.options.namespace && namespace !== this.options.namespace)) return;
    const { kube } = this.options;
    const vm = await getOptional<VirtualMachine>(kube, kubevirtTypes.virtualMachine, name, namespace);
    // A deleted VM's VMI goes with it through its ownerReference (the garbage collector's job).
    if (!vm) return;
    let vmi = await getOptional<VirtualMachineInstance>(
      kube,
      kubevirtTypes.virtualMachineInstance,
      name,
      namespace,
    );
    let requeueAfterMs: number | undefined;
    if (vm.metadata.deletionTimestamp) {
      // Foreground deletion: the garbage collector removes the VMI, then the VM.
    } else if (wantsRunning(vm)) {
      if (!vmi) vmi = await this.createVmi(vm);
      else if (isFinal(vmi)) {
        // Under Always a VMI that ended is replaced by a fresh one.
        await kube.delete(kubevirtTypes.virtualMachineInstance, name, namespace);
        vmi = undefined;
      } else requeueAfterMs = await this.advance(vm, vmi).then((r) => ((vmi = r.vmi), r.requeueAfterMs));
    } else if (vmi) {
      ({ vmi, requeueAfterMs } = await this.shutDown(vmi));
    }
    await this.writeVmStatus(vm, vmi);
    return requeueAfterMs === undefined ? undefined : { requeueAfterMs };
  }

  private async createVmi(vm: VirtualMachine): Promise<VirtualMachineInstance> {
    const template = vm.spec.template;
    return this.options.kube.create<VirtualMachineInstance>(kubevirtTypes.virtualMachineInstance, {
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachineInstance',
      metadata: {
        name: vm.metadata.name,
        namespace: vm.metadata.namespace,
        labels: template.metadata?.labels as Record<string, string> | undefined,
        ownerReferences: [controllerReference(vm, kubevirtTypes.virtualMachine)],
      },
      spec: template.spec ?? { domain: { devices: {} } },
      status: { phase: 'Pending' },
    });
  }

  /** Pending → Scheduling → Running → agent connected, each step after its configured delay. */
  private async advance(
    vm: VirtualMachine,
    vmi: VirtualMachineInstance,
  ): Promise<{ vmi: VirtualMachineInstance; requeueAfterMs?: number }> {
    const uid = vmi.metadata.uid ?? '';
    const phase = (vmi.status?.phase ?? 'Pending') as Phase;
    const since = this.since(uid, phase);
    const key = `${vmi.metadata.namespace}/${vmi.metadata.name}`;
    if (phase === 'Pending' || phase === 'Scheduling' || phase === 'Scheduled') {
      if (phase === 'Pending') await this.launchers.create(vmi);
      if (this.unschedulable.has(key)) {
        return {
          vmi: await this.patchVmiStatus(vmi, {
            phase: 'Scheduling',
            conditions: [
              {
                type: 'PodScheduled',
                status: 'False',
                reason: 'Unschedulable',
                message: '0/1 nodes are available: 1 Insufficient devices.kubevirt.io/kvm.',
              },
            ],
          }),
        };
      }
      if (phase === 'Pending')
        return {
          vmi: await this.patchVmiStatus(vmi, { phase: 'Scheduling' }),
          requeueAfterMs: this.options.bootDelayMs,
        };
      const wait = this.options.bootDelayMs - since;
      if (wait > 0) return { vmi, requeueAfterMs: wait };
      const pod = await this.launchers.boot(vm, vmi, this.podIpOf(uid));
      // A kubelet has yet to start the launcher pod: the VMI stays Scheduling meanwhile.
      if (!pod) return { vmi, requeueAfterMs: this.options.bootDelayMs };
      const node = pod.spec?.nodeName ?? NODE;
      // A kubelet's pod has its own IP, which KubeVirt reports.
      if (pod.status?.podIP) this.podIps.set(uid, pod.status.podIP);
      return {
        vmi: await this.patchVmiStatus(vmi, {
          phase: 'Running',
          nodeName: node,
          activePods: { [pod.metadata.uid ?? '']: node },
          conditions: [{ type: 'Ready', status: 'True' }],
          interfaces: await this.interfaces(vm, uid, false),
        }),
        requeueAfterMs: this.options.agentDelayMs,
      };
    }
    const conditions = (vmi.status?.conditions ?? []) as VmiCondition[];
    if (phase !== 'Running' || conditions.some((c) => c.type === 'AgentConnected')) return { vmi };
    const wait = this.options.agentDelayMs - since;
    if (wait > 0) return { vmi, requeueAfterMs: wait };
    return {
      vmi: await this.patchVmiStatus(vmi, {
        conditions: [...conditions, { type: 'AgentConnected', status: 'True' }],
        interfaces: await this.interfaces(vm, uid, true),
      }),
    };
  }

  /** Halted: virt-handler shuts the guest down gracefully, then the VMI ends (Succeeded) and is removed. */
  private async shutDown(
    vmi: VirtualMachineInstance,
  ): Promise<{ vmi?: VirtualMachineInstance; requeueAfterMs?: number }> {
    const uid = vmi.metadata.uid ?? '';
    if (!isFinal(vmi)) {
      const requested = this.stopRequestedAt.get(uid) ?? Date.now();
      this.stopRequestedAt.set(uid, requested);
      const wait = this.options.shutdownDelayMs - (Date.now() - requested);
      if (wait > 0) return { vmi, requeueAfterMs: wait };
      await this.patchVmiStatus(vmi, { phase: 'Succeeded' });
    }
    this.stopRequestedAt.delete(uid);
    await this.options.kube
      .delete(kubevirtTypes.virtualMachineInstance, vmi.metadata.name ?? '', vmi.metadata.namespace)
      .catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
    return {};
  }

  /** The pod IP of VMI `uid`: the next of the pool, handed out once. */
  private podIpOf(uid: string): string {
    let ip = this.podIps.get(uid);
    if (ip === undefined) {
      ip = this.options.ipPool[this.nextIp++ % this.options.ipPool.length] ?? '';
      this.podIps.set(uid, ip);
    }
    return ip;
  }

  /** Milliseconds the VMI has been in `phase`, as far as this simulator saw. */
  private since(uid: string, phase: Phase): number {
    const seen = this.startedAt.get(uid);
    if (seen?.phase === phase) return Date.now() - seen.at;
    this.startedAt.set(uid, { phase, at: Date.now() });
    return 0;
  }

  /**
   * What KubeVirt reports: on the pod network (masquerade) the pod IP, known from the domain at once
   * and whatever the guest configured (a static address there only cuts the guest off: the NAT
   * serves 10.0.2.2); on a Multus bridge the guest's static addresses, which only its agent reports.
   */
  private async interfaces(vm: VirtualMachine, uid: string, agentConnected: boolean) {
    const podNetwork = (vm.spec.template?.spec?.networks ?? []).some((n) => 'pod' in n);
    const configured = podNetwork
      ? []
      : staticAddresses((await readSeed(this.options.kube, vm)).networkConfig);
    let addresses = configured;
    if (configured.length === 0) addresses = [this.podIpOf(uid)];
    else if (!agentConnected) addresses = [];
    return [
      {
        name: 'default',
        interfaceName: 'eth0',
        mac: '02:00:00:00:00:01',
        infoSource: agentConnected ? 'domain, guest-agent' : 'domain',
        ...(addresses[0] !== undefined && { ipAddress: addresses[0], ipAddresses: addresses }),
      },
    ];
  }

  /** VMIs have no status subresource: virt-controller and virt-handler write status with the object. */
  private patchVmiStatus(vmi: VirtualMachineInstance, status: object): Promise<VirtualMachineInstance> {
    return this.options.kube.patch<VirtualMachineInstance>(
      kubevirtTypes.virtualMachineInstance,
      vmi.metadata.name ?? '',
      vmi.metadata.namespace,
      { metadata: { resourceVersion: vmi.metadata.resourceVersion }, status },
      'merge',
    );
  }

  /** virt-controller's VM status: printableStatus in KubeVirt's order of precedence, and the VMI's conditions. */
  private async writeVmStatus(vm: VirtualMachine, vmi: VirtualMachineInstance | undefined): Promise<void> {
    const vmiConditions = (vmi?.status?.conditions ?? []) as VmiCondition[];
    const ready = vmiConditions.some((c) => c.type === 'Ready' && c.status === 'True');
    const status = {
      printableStatus: printableStatus(vm, vmi),
      created: vmi !== undefined,
      ready,
      ...(vm.spec.runStrategy !== undefined && { runStrategy: vm.spec.runStrategy }),
      conditions: [
        ready
          ? { type: 'Ready', status: 'True' }
          : { type: 'Ready', status: 'False', reason: vmi ? 'VMIConditionMissing' : 'VMINotExists' },
        ...vmiConditions.filter((c) => c.type !== 'Ready'),
      ],
    };
    const current = vm.status ?? {};
    const unchanged = Object.entries(status).every(
      ([field, value]) => JSON.stringify(current[field as keyof typeof current]) === JSON.stringify(value),
    );
    if (unchanged) return;
    await this.options.kube
      .patch(
        kubevirtTypes.virtualMachine,
        vm.metadata.name ?? '',
        vm.metadata.namespace,
        { status },
        'merge',
        { subresource: 'status' },
      )
      .catch((error: unknown) => {
        // Deleted meanwhile (the garbage collector finished a foreground deletion): no status to write.
        if (!isNotFound(error)) throw error;
      });
  }
}

/** KubeVirt's printableStatus rules (virt-controller setPrintableStatus), for what the simulator models. */
function printableStatus(vm: VirtualMachine, vmi: VirtualMachineInstance | undefined): string {
  const phase = vmi?.status?.phase;
  const conditions = (vmi?.status?.conditions ?? []) as VmiCondition[];
  if (vm.metadata.deletionTimestamp) return 'Terminating';
  if (vmi && !isFinal(vmi) && (vmi.metadata.deletionTimestamp || !wantsRunning(vm))) return 'Stopping';
  if (phase === 'Running') return 'Running';
  if (
    conditions.some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable')
  )
    return 'ErrorUnschedulable';
  if (vmi ? !isFinal(vmi) : wantsRunning(vm)) return 'Starting';
  return 'Stopped';
}
