// Drives the real OpenSSH client through a keyboard-interactive login, as a customer's terminal
// would: every prompt the server sends (the PAM module's info text and its question arrive together)
// reaches `answer` through SSH_ASKPASS, and what `answer` returns is typed in. No SSH key is used.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SshLogin {
  host: string;
  port: number;
  user: string;
  /** Run in the guest once logged in. */
  command: string;
  /** The answer to one prompt (the whole text ssh shows, info and question). */
  answer(prompt: string): Promise<string>;
  timeoutMs?: number;
}

export interface SshOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  prompts: string[];
}

/** The askpass program: hands the prompt to the test through files and waits for the answer. */
const ASKPASS = `#!/bin/bash
set -euo pipefail
dir=$BLOCKHOST_ASKPASS_DIR
n=0
while [ -e "$dir/prompt.$n" ]; do n=$((n + 1)); done
printf '%s' "$1" >"$dir/prompt.$n.tmp"
mv "$dir/prompt.$n.tmp" "$dir/prompt.$n"
while [ ! -e "$dir/answer.$n" ]; do sleep 0.05; done
cat "$dir/answer.$n"
`;

/** Parses the code and machine out of the PAM module's prompt (INTEROP §4). */
export function parseWalletPrompt(prompt: string): { code: string; machine: string; url: string } {
  const code = /Code: (\d+)/.exec(prompt)?.[1];
  const machine = /Machine: (\S+)/.exec(prompt)?.[1];
  const url = /Sign at: (\S+)/.exec(prompt)?.[1];
  if (!code || !machine || !url) throw new Error(`not a wallet login prompt: ${JSON.stringify(prompt)}`);
  return { code, machine, url };
}

export async function sshWalletLogin(login: SshLogin): Promise<SshOutcome> {
  const dir = await mkdtemp(join(tmpdir(), 'bh-askpass-'));
  const askpass = join(dir, 'askpass');
  await writeFile(askpass, ASKPASS);
  await chmod(askpass, 0o700);
  const rendezvous = join(dir, 'io');
  await mkdir(rendezvous);
  const child = spawn(
    'ssh',
    [
      '-p',
      String(login.port),
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'PreferredAuthentications=keyboard-interactive',
      '-o',
      'PubkeyAuthentication=no',
      '-o',
      'NumberOfPasswordPrompts=1',
      '-o',
      'ConnectTimeout=20',
      '-o',
      'LogLevel=ERROR',
      '-T',
      `${login.user}@${login.host}`,
      login.command,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        SSH_ASKPASS: askpass,
        SSH_ASKPASS_REQUIRE: 'force',
        DISPLAY: ':0',
        BLOCKHOST_ASKPASS_DIR: rendezvous,
      },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  let done = false;
  void exited.then(() => (done = true));
  const prompts: string[] = [];
  const timeout = setTimeout(() => child.kill('SIGKILL'), login.timeoutMs ?? 90_000);
  try {
    while (!done) {
      const n = prompts.length;
      const promptFile = join(rendezvous, `prompt.${n}`);
      if (existsSync(promptFile)) {
        const prompt = await readFile(promptFile, 'utf8');
        prompts.push(prompt);
        const answer = await login.answer(prompt);
        await writeFile(join(rendezvous, `answer.${n}.tmp`), answer);
        await rename(join(rendezvous, `answer.${n}.tmp`), join(rendezvous, `answer.${n}`));
      } else await new Promise((r) => setTimeout(r, 50));
    }
    const exitCode = await exited;
    return { exitCode, stdout, stderr, prompts };
  } finally {
    clearTimeout(timeout);
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}
