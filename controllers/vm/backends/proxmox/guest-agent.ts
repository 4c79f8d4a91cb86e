import { sleep } from '../../../../lib/backoff.js';
import { cidrContains, parseIp } from '../../../../lib/api/ip.js';
import {
  BackendError,
  GuestAgentUnavailableError,
  type GuestCommand,
  type GuestExecResult,
} from '../../backend.js';
import { GUEST_FILE_NOT_FOUND } from '../../guest-agent.js';
import type { PveClient } from './client.js';
import { isAgentUnavailable, pveMessageOf } from './errors.js';

/** One entry of the agent's network-get-interfaces result. */
export interface AgentInterface {
  name: string;
  'hardware-address'?: string;
  'ip-addresses'?: { 'ip-address': string; 'ip-address-type': 'ipv4' | 'ipv6'; prefix: number }[];
}

interface ExecStatus {
  exited: number | boolean;
  exitcode?: number;
  signal?: number;
  'out-data'?: string;
  'err-data'?: string;
}

const NOT_REACHABLE = ['127.0.0.0/8', '169.254.0.0/16', '::1/128', 'fe80::/10'];
const DEFAULT_EXEC_TIMEOUT_MS = 60_000;
const PING_TIMEOUT_MS = 5_000;
/** PVE's schema limit for agent/file-write's `content`. */
const FILE_WRITE_MAX_CHARS = 61_440;

/** The first global IPv4 and IPv6 the guest reports: loopback and link-local addresses skipped. */
export function guestAddresses(interfaces: AgentInterface[]): { ipv4?: string; ipv6?: string } {
  const found: { ipv4?: string; ipv6?: string } = {};
  for (const nic of interfaces) {
    if (nic.name === 'lo') continue;
    for (const entry of nic['ip-addresses'] ?? []) {
      const address = entry['ip-address'].replace(/%.*$/, '');
      const family = entry['ip-address-type'];
      if (found[family] || !parseIp(address)) continue;
      if (NOT_REACHABLE.some((cidr) => cidrContains(cidr, address))) continue;
      found[family] = address;
    }
  }
  return found;
}

/** The QEMU guest agent through PVE's /agent endpoints (PVE decodes exec output from base64). */
export class GuestAgent {
  constructor(
    private readonly client: PveClient,
    private readonly node: string,
  ) {}

  private path(vmid: number, command: string) {
    return `/nodes/${encodeURIComponent(this.node)}/qemu/${vmid}/agent/${command}`;
  }

  /** Whether the agent answers within a few seconds; any failure counts as no. */
  async ping(vmid: number, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.client.post(this.path(vmid, 'ping'), {}, { timeoutMs: PING_TIMEOUT_MS, retries: 0, signal });
      return true;
    } catch {
      return false;
    }
  }

  async addresses(vmid: number, signal?: AbortSignal): Promise<{ ipv4?: string; ipv6?: string }> {
    const answer = await this.client.get<{ result: AgentInterface[] }>(
      this.path(vmid, 'network-get-interfaces'),
      undefined,
      { signal },
    );
    return guestAddresses(answer.result ?? []);
  }

  /** agent/exec, then agent/exec-status until the program has exited or the timeout passes. */
  async exec(vmid: number, command: GuestCommand, signal?: AbortSignal): Promise<GuestExecResult> {
    const what = `${command.path} in VM ${vmid}`;
    const timeoutMs = command.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const { pid } = await this.agentCall(what, () =>
      this.client.post<{ pid: number }>(
        this.path(vmid, 'exec'),
        { command: [command.path, ...(command.args ?? [])], 'input-data': command.input },
        { signal },
      ),
    );
    let intervalMs = 50;
    for (;;) {
      const status = await this.agentCall(what, () =>
        this.client.get<ExecStatus>(this.path(vmid, 'exec-status'), { pid }, { signal }),
      );
      if (status.exited === 1 || status.exited === true) {
        return {
          exitCode: status.exitcode ?? (status.signal === undefined ? -1 : 128 + status.signal),
          stdout: status['out-data'] ?? '',
          stderr: status['err-data'] ?? '',
        };
      }
      if (Date.now() >= deadline) {
        throw new BackendError(
          `${what}: still running after ${timeoutMs} ms (pid ${pid})`,
          'GuestExecTimeout',
        );
      }
      await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())), signal);
      signal?.throwIfAborted();
      intervalMs = Math.min(intervalMs * 2, 500);
    }
  }

  /**
   * agent/file-read (PVE opens, reads up to 16 MiB and closes the file, and decodes the content),
   * or undefined when the file does not exist.
   */
  async readFile(
    vmid: number,
    path: string,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const what = `reading ${path} in VM ${vmid}`;
    let answer: { content: string; truncated?: number | boolean };
    try {
      answer = await this.agentCall(what, () =>
        this.client.get<{ content: string; truncated?: number | boolean }>(
          this.path(vmid, 'file-read'),
          { file: path },
          { signal },
        ),
      );
    } catch (error) {
      if (GUEST_FILE_NOT_FOUND.test(pveMessageOf(error) ?? '')) return undefined;
      throw error;
    }
    if (answer.truncated || Buffer.byteLength(answer.content) > maxBytes)
      throw new BackendError(`${path} in VM ${vmid} is larger than ${maxBytes} bytes`, 'GuestFileTooLarge');
    return answer.content;
  }

  /** agent/file-write: PVE base64-encodes the content for the agent (encode defaults to on). */
  async writeFile(vmid: number, path: string, content: string, signal?: AbortSignal): Promise<void> {
    if (content.length > FILE_WRITE_MAX_CHARS)
      throw new BackendError(
        `${path}: ${content.length} characters is more than agent/file-write takes (${FILE_WRITE_MAX_CHARS})`,
        'GuestFileTooLarge',
      );
    await this.agentCall(`writing ${path} in VM ${vmid}`, () =>
      this.client.post(this.path(vmid, 'file-write'), { file: path, content }, { signal }),
    );
  }

  private async agentCall<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (isAgentUnavailable(error)) {
        throw new GuestAgentUnavailableError(`${what}: ${pveMessageOf(error)}`, { cause: error });
      }
      throw error;
    }
  }
}
