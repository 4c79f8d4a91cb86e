import { isIPv4, isIPv6 } from 'node:net';
import { BackendError, type ObservedVm, type PowerState } from '../../backend.js';
import { rootDataVolumeName } from './manifests.js';
import { quantityToGiB, quantityToMiB } from './quantity.js';
import {
  CREATE_INTENT_ANNOTATION,
  type Pod,
  type VirtualMachine,
  type VirtualMachineInstance,
} from './resource-types.js';

/**
 * `status.printableStatus` (virt-controller's summary of VM and VMI) → power state. Statuses that
 * only say why a VM is not up yet, errors included, mean Starting for a VM that should run (KubeVirt
 * keeps trying) and Stopped for one that should not.
 */
const PRINTABLE_STATUS_POWER: Record<string, PowerState | 'NotUp'> = {
  Running: 'Running',
  Migrating: 'Running',
  Paused: 'Paused',
  Stopped: 'Stopped',
  Stopping: 'Stopping',
  Terminating: 'Stopping',
  Starting: 'NotUp',
  Provisioning: 'NotUp',
  WaitingForVolumeBinding: 'NotUp',
  WaitingForReceiver: 'NotUp',
  ErrorUnschedulable: 'NotUp',
  ErrImagePull: 'NotUp',
  ImagePullBackOff: 'NotUp',
  ErrorPvcNotFound: 'NotUp',
  DataVolumeError: 'NotUp',
  CrashLoopBackOff: 'NotUp',
  Unknown: 'Unknown',
};

/** Run strategies under which virt-controller keeps (or gets) a VMI running. */
const wantsRunning = (vm: VirtualMachine): boolean =>
  vm.spec.runStrategy === undefined ? vm.spec.running === true : vm.spec.runStrategy !== 'Halted';

export function powerStateOf(vm: VirtualMachine): PowerState {
  const printable = vm.status?.printableStatus;
  // No status yet: virt-controller has not seen the VM, so nothing runs.
  const power = printable === undefined ? 'NotUp' : (PRINTABLE_STATUS_POWER[printable] ?? 'Unknown');
  if (power !== 'NotUp') return power;
  return wantsRunning(vm) ? 'Starting' : 'Stopped';
}

/**
 * The guest agent's state: the VMI's AgentConnected condition (virt-handler sets it), which
 * virt-controller also copies onto the VM; the VMI's is the fresher of the two.
 */
export function guestAgentConnected(vm: VirtualMachine, vmi: VirtualMachineInstance | undefined): boolean {
  if (!vmi) return false;
  const condition =
    vmi.status?.conditions?.find((c) => c.type === 'AgentConnected') ??
    vm.status?.conditions?.find((c) => c.type === 'AgentConnected');
  return condition?.status === 'True';
}

/** Global unicast IPv6 (2000::/3): link-local, unique-local and the masquerade NAT's addresses are not reachable. */
function isGlobalIPv6(address: string): boolean {
  if (!isIPv6(address)) return false;
  const firstHextet = parseInt(address.split(':')[0] || '0', 16);
  return (firstHextet & 0xe000) === 0x2000;
}

/** First IPv4 and first global IPv6 the VMI reports, over all its interfaces. */
export function guestAddresses(vmi: VirtualMachineInstance | undefined): ObservedVm['addresses'] {
  const all = (vmi?.status?.interfaces ?? []).flatMap((i) =>
    (i.ipAddresses ?? (i.ipAddress ? [i.ipAddress] : [])).map((a) => a.split('/')[0] ?? a),
  );
  const ipv4 = all.find((a) => isIPv4(a));
  const ipv6 = all.find(isGlobalIPv6);
  return { ...(ipv4 && { ipv4 }), ...(ipv6 && { ipv6 }) };
}

/** Whether the VM's interface is on the pod network (masquerade): the guest is reached at its pod's IP. */
export const onPodNetwork = (vm: VirtualMachine): boolean =>
  (vm.spec.template?.spec?.networks ?? []).some((network) => 'pod' in network);

/** First IPv4 and first global IPv6 of a pod, as its kubelet reports them. */
export function podAddresses(pod: Pod): ObservedVm['addresses'] {
  const all = pod.status?.podIPs?.map((p) => p.ip) ?? (pod.status?.podIP ? [pod.status.podIP] : []);
  const ipv4 = all.find((a) => isIPv4(a));
  const ipv6 = all.find(isGlobalIPv6);
  return { ...(ipv4 && { ipv4 }), ...(ipv6 && { ipv6 }) };
}

/** Size as the VM spec declares it; the root disk size only for DataVolume-backed disks. */
export function sizeOf(vm: VirtualMachine): Pick<ObservedVm, 'cpu' | 'memoryMiB' | 'diskGiB'> {
  const domain = vm.spec.template?.spec?.domain;
  const cpu = domain?.cpu;
  const memory = domain?.memory?.guest ?? domain?.resources?.requests?.memory;
  const rootDataVolume = vm.spec.dataVolumeTemplates?.find(
    (t) => t.metadata?.name === rootDataVolumeName(vm.metadata.name ?? ''),
  );
  const disk =
    rootDataVolume?.spec.storage?.resources?.requests?.storage ??
    rootDataVolume?.spec.pvc?.resources?.requests?.storage;
  return {
    ...(cpu && { cpu: (cpu.cores ?? 1) * (cpu.sockets ?? 1) * (cpu.threads ?? 1) }),
    ...(memory !== undefined && { memoryMiB: quantityToMiB(memory) }),
    ...(disk !== undefined && { diskGiB: quantityToGiB(disk) }),
  };
}

/** Backend id of a VirtualMachine: `namespace/name`, since power, update and delete get only the id. */
export const backendIdOf = (namespace: string, name: string): string => `${namespace}/${name}`;

export function parseBackendId(id: string): { namespace: string; name: string } {
  const [namespace, name, ...rest] = id.split('/');
  if (!namespace || !name || rest.length > 0)
    throw new BackendError(`"${id}" is not a KubeVirt backend id (namespace/name)`, 'InvalidBackendId');
  return { namespace, name };
}

export function observedVm(vm: VirtualMachine, vmi: VirtualMachineInstance | undefined): ObservedVm {
  const intentId = vm.metadata.annotations?.[CREATE_INTENT_ANNOTATION];
  return {
    id: backendIdOf(vm.metadata.namespace ?? '', vm.metadata.name ?? ''),
    ...(intentId !== undefined && { intentId }),
    power: powerStateOf(vm),
    guestAgentConnected: guestAgentConnected(vm, vmi),
    addresses: guestAddresses(vmi),
    ...sizeOf(vm),
  };
}
