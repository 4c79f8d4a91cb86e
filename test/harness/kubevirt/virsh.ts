// `virsh qemu-agent-command` as it behaves in a virt-launcher's compute container, which serves
// one libvirt domain: the reply JSON on stdout, or exit 1 and libvirt's error text on stderr.
import type { ExecOutput } from '../../../controllers/vm/backends/kubevirt/launcher.js';
import { QgaError, type GuestAgent, type QgaCommand } from './qga.js';

/** virtqemud's socket in the compute container (KubeVirt's non-root launcher). */
const LAUNCHER_URI = 'qemu+unix:///session?socket=/var/run/libvirt/virtqemud-sock';

/** The launcher's one domain, `<namespace>_<vmi name>`; `agent` is absent while it is not connected. */
export interface LauncherDomain {
  name: string;
  running: boolean;
  agent?: GuestAgent;
}

const failed = (...lines: string[]): ExecOutput => ({
  exitCode: 1,
  stdout: '',
  stderr: `${lines.map((line) => `error: ${line}`).join('\n')}\n\n`,
});

/**
 * Runs `virsh -c <uri> qemu-agent-command <domain> --timeout <seconds> <json>`, the one form the
 * KubeVirt driver sends; any other argv is refused as virsh refuses it.
 */
export function virsh(argv: string[], domain: LauncherDomain): ExecOutput {
  const [program, connect, uri, command, name, timeoutOption, timeout, json, ...rest] = argv;
  if (program !== 'virsh') throw new Error(`the simulated launcher runs only virsh, not ${program}`);
  // Another URI (or none: the default) names a socket nothing listens on in the compute container.
  if (connect !== '-c' || uri !== LAUNCHER_URI) {
    const socket = /[?&]socket=([^&]+)/.exec(uri ?? '')?.[1] ?? '/var/run/libvirt/libvirt-sock';
    return failed(
      'failed to connect to the hypervisor',
      `Failed to connect socket to '${socket}': No such file or directory`,
    );
  }
  if (command !== 'qemu-agent-command') return failed(`unknown command: '${command ?? ''}'`);
  if (timeoutOption !== '--timeout' || json === undefined || rest.length > 0)
    return failed(`command 'qemu-agent-command' doesn't support option ${timeoutOption ?? '<cmd>'}`);
  if (!/^\d+$/.test(timeout ?? ''))
    return failed(`Numeric value '${timeout ?? ''}' for <timeout> option is malformed or out of range`);
  if (name !== domain.name) return failed(`failed to get domain '${name ?? ''}'`);
  if (!domain.running) return failed('Requested operation is not valid: domain is not running');
  if (!domain.agent) return failed('Guest agent is not responding: QEMU guest agent is not connected');
  let request: QgaCommand;
  try {
    request = JSON.parse(json) as QgaCommand;
  } catch (error) {
    return failed(`internal error: cannot parse json ${json}: ${(error as Error).message}`);
  }
  try {
    return { exitCode: 0, stdout: `${JSON.stringify({ return: domain.agent.run(request) })}\n`, stderr: '' };
  } catch (error) {
    if (!(error instanceof QgaError)) throw error;
    return failed(
      `internal error: unable to execute QEMU agent command '${String(request.execute)}': ${error.message}`,
    );
  }
}
