// The local stack runs each BlockHost process through its own CLI, as the chart's containers do,
// and waits for its readiness endpoint.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { get as httpsGet } from 'node:https';
import { waitFor } from '../processes.js';

export interface StackProcess {
  name: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `node --import tsx <entry> <args>`, logs on this terminal. */
export function startEntry(name: string, entry: string, args: string[]): StackProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], { stdio: 'inherit' });
  return {
    name,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** Waits for `url` to answer 200; fails early when the process exits first. */
export async function waitReady(process: StackProcess, url: string, ca?: Buffer): Promise<void> {
  await waitFor(`${process.name} at ${url}`, () => answersOk(url, ca), {
    timeoutMs: 120_000,
    intervalMs: 250,
    abortIf: () =>
      process.child.exitCode !== null ? `${process.name} exited (${process.child.exitCode})` : undefined,
  });
}

async function answersOk(url: string, ca?: Buffer): Promise<boolean> {
  if (!url.startsWith('https:')) return (await fetch(url)).ok;
  // The webhook's certificate comes from our own throw-away CA.
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    }).on('error', reject);
  });
}
