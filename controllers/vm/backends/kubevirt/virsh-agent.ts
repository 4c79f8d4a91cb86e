import { BackendError, GuestAgentUnavailableError } from '../../backend.js';
import type { AgentTransport } from '../../guest-agent.js';
import type { ExecOutput } from './launcher.js';

/**
 * virt-launcher's libvirt: virtqemud listens on this socket in the compute container (KubeVirt's
 * default non-root mode) and names each domain `<namespace>_<vmi name>`.
 */
export const LAUNCHER_LIBVIRT_URI = 'qemu+unix:///session?socket=/var/run/libvirt/virtqemud-sock';
export const launcherDomainName = (namespace: string, name: string): string => `${namespace}_${name}`;

const AGENT_TIMEOUT_S = 30;
const AGENT_UNAVAILABLE =
  /guest agent is not (connected|responding|available)|agent is not running|domain is not running|not connected/i;

/** Sends guest-agent commands through `virsh qemu-agent-command` run by `exec` in the launcher. */
export function virshAgentTransport(
  exec: (command: string[]) => Promise<ExecOutput>,
  domain: string,
): AgentTransport {
  return async (command) => {
    const output = await exec([
      'virsh',
      '-c',
      LAUNCHER_LIBVIRT_URI,
      'qemu-agent-command',
      domain,
      '--timeout',
      String(AGENT_TIMEOUT_S),
      JSON.stringify(command),
    ]);
    const stderr = output.stderr.trim();
    if (output.exitCode !== 0) {
      if (AGENT_UNAVAILABLE.test(stderr))
        throw new GuestAgentUnavailableError(`guest agent of ${domain}: ${stderr}`);
      throw new BackendError(
        `virsh qemu-agent-command ${command.execute} on ${domain}: ${stderr}`,
        'GuestExecFailed',
      );
    }
    const reply = JSON.parse(output.stdout) as { return?: unknown; error?: { desc?: string } };
    if (reply.error)
      throw new BackendError(`guest agent of ${domain}: ${reply.error.desc ?? 'error'}`, 'GuestExecFailed');
    return reply.return;
  };
}
