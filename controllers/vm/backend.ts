import type { BackendType } from '../../lib/api/v1alpha1/index.js';
import type { NoCloudSeed } from './cloud-init.js';

/**
 * The one interface the VM controller drives every backend through (KubeVirt, libvirt, Proxmox).
 * Implementations translate; the controller decides. Every method may be retried after a crash at
 * any point, so each is idempotent; `create` is made so by a deterministic name and an intent id
 * (the VM object's UID): `create` tags the backend VM with it, a repeated create of the same intent
 * returns the VM it made, and `observe` finds a VM by name or tag when its backend id was never
 * recorded (a crash right after the create).
 *
 * Every call takes an optional AbortSignal last: it aborts at the call's deadline or when the
 * controller stops (lost leadership), and drivers pass it to their waits (virsh, HTTP requests,
 * task and agent polling) so an abandoned call stops working on the backend too.
 */
export interface VmBackend {
  readonly type: BackendType;
  /** The backend VM of `ref`, or undefined when it does not exist (deleted, or never created). */
  observe(ref: BackendRef, signal?: AbortSignal): Promise<ObservedVm | undefined>;
  /** Creates the VM stopped or running as `desired.running` says; returns what `observe` would. */
  create(desired: DesiredVm, signal?: AbortSignal): Promise<ObservedVm>;
  /** Brings size (grow only) and cloud-init inputs of an existing VM to `desired`. */
  update(id: string, desired: DesiredVm, signal?: AbortSignal): Promise<void>;
  /** start: boot; shutdown: ACPI power button (graceful); stop: pull the plug. No-op when already there. */
  power(id: string, action: PowerAction, signal?: AbortSignal): Promise<void>;
  /**
   * Removes the VM and its disks (stopping it first if needed). Resolves once removal is done or
   * under way; `observe` returns undefined when nothing of it is left. Absent VM: no-op.
   */
  delete(id: string, signal?: AbortSignal): Promise<void>;
  /** Runs a program in the guest through the QEMU guest agent and waits for it. */
  guestExec(id: string, command: GuestCommand, signal?: AbortSignal): Promise<GuestExecResult>;
  /**
   * A file in the guest through the agent's file commands, or undefined when it does not exist.
   * Throws a BackendError (GuestFileTooLarge) above `maxBytes`.
   */
  guestReadFile(
    id: string,
    path: string,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<string | undefined>;
  /** Creates or truncates a file in the guest and writes `content` (not atomic; see guest-agent.ts). */
  guestWriteFile(id: string, path: string, content: string, signal?: AbortSignal): Promise<void>;
  /**
   * A cheap connectivity check of the configured backend (reachable, credentials accepted, the
   * storage, network and images it needs exist). Resolves when usable; throws a BackendError whose
   * reason and message name what is wrong. Used by setup's BackendReady step, rechecked periodically.
   */
  check?(): Promise<void>;
  /** Releases connections and timers. */
  close?(): Promise<void>;
}

export type PowerAction = 'start' | 'shutdown' | 'stop';

/** Power state in backend-neutral words. */
export type PowerState = 'Running' | 'Stopped' | 'Starting' | 'Stopping' | 'Paused' | 'Unknown';

export interface BackendRef {
  /** VM object namespace and name: backends derive stable names from them. */
  namespace: string;
  name: string;
  /** The recorded backend id (status.backendId, else the blockhost.io/backend-id annotation). */
  id?: string;
  /** The tag the create put on the backend VM (the VM object's UID). */
  intentId?: string;
}

export interface DesiredVm extends BackendRef {
  intentId: string;
  /** UID of the VM object, for backends that label their objects with it. */
  uid: string;
  cpu: number;
  memoryMiB: number;
  diskGiB: number;
  /** Image name from the backend's image list in the HostConfig. */
  image: string;
  running: boolean;
  cloudInit: NoCloudSeed;
  /** MAC of the VM's one NIC; the cloud-init network config matches it. */
  macAddress: string;
  /** Static addresses configured through cloud-init (also what the VM is reachable at). */
  addresses: { ipv4?: string; ipv6?: string };
}

export interface ObservedVm {
  /** Backend id recorded in status.backendId (domain UUID, VMID, VirtualMachine name). */
  id: string;
  /** The intent id the VM was tagged with at create, if the backend can read it back. */
  intentId?: string;
  power: PowerState;
  guestAgentConnected: boolean;
  /** Addresses the backend reports for the guest (agent or instance status), if any. */
  addresses: { ipv4?: string; ipv6?: string };
  cpu?: number;
  memoryMiB?: number;
  diskGiB?: number;
}

export interface GuestCommand {
  path: string;
  args?: string[];
  /** Written to the program's stdin. */
  input?: string;
  timeoutMs?: number;
}

export interface GuestExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A failure the controller should report and retry with backoff, not treat as absence. */
export class BackendError extends Error {
  constructor(
    message: string,
    /** CamelCase reason for conditions and Events. */
    readonly reason = 'BackendError',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BackendError';
  }
}

/** The guest agent did not answer; retry later (the guest may still be booting). */
export class GuestAgentUnavailableError extends BackendError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'GuestAgentUnavailable', options);
    this.name = 'GuestAgentUnavailableError';
  }
}
