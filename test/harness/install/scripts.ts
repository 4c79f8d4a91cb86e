import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoDir = join(here, '..', '..', '..');

/** The install scripts under test and the test stand-ins next to this file. */
export const installScripts = {
  firstboot: join(repoDir, 'k3s', 'firstboot.sh'),
  setupCode: join(repoDir, 'k3s', 'blockhost-setup-code'),
  bridge: join(repoDir, 'k3s', 'blockhost-bridge'),
  hostFacts: join(repoDir, 'k3s', 'blockhost-host-facts'),
  networkSync: join(repoDir, 'k3s', 'blockhost-network-sync'),
  unit: join(repoDir, 'k3s', 'blockhost-firstboot.service'),
  networkSyncService: join(repoDir, 'k3s', 'blockhost-network-sync.service'),
  networkSyncTimer: join(repoDir, 'k3s', 'blockhost-network-sync.timer'),
  preseed: join(repoDir, 'preseed', 'blockhost.preseed'),
  lateCommand: join(repoDir, 'preseed', 'late-command.sh'),
  eraseDiskConfirm: join(repoDir, 'preseed', 'erase-disk-confirm.sh'),
  eraseDiskTemplates: join(repoDir, 'preseed', 'erase-disk-confirm.templates'),
  buildIso: join(repoDir, 'iso', 'build.sh'),
  makeNetinst: join(here, 'make-netinst.sh'),
  makePayload: join(here, 'make-payload.sh'),
  fakeK3s: join(here, 'fake-k3s'),
  fakeInstall: join(here, 'fake-install.sh'),
  fakeHostTools: join(here, 'fake-host-tools'),
};

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end and reports the exit code instead of throwing: tests check failures too. */
export function run(
  command: string,
  args: string[],
  { env = {}, input }: { env?: Record<string, string>; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    // A command may exit before reading its input; that is its business, not a test failure.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

/** Like run, but fails with the command's output when it does not exit 0. */
export async function runOk(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result;
}
