import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fromSamples, writeResult } from './results.js';

const READY_LINE = /BlockHost is running/;

/**
 * `npm start` (the README's run command, minus npm's own start-up) from spawn to the line that
 * prints every URL, on a warm cache; then Ctrl-C and wait for everything to stop before the next run.
 */
export async function localStackReady(runs = 3): Promise<void> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const began = performance.now();
    const stack = spawn(process.execPath, ['--import', 'tsx', 'test/harness/local-stack.ts'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      stack.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (READY_LINE.test(output)) resolve();
      });
      stack.once('exit', (code) =>
        reject(new Error(`npm start exited (${code}) before it was ready:\n${output}`)),
      );
    });
    samples.push((performance.now() - began) / 1000);
    stack.kill('SIGINT');
    await once(stack, 'exit');
  }
  writeResult(fromSamples('local-stack-ready', 'npm start to every URL ready (warm cache)', 's', samples));
}
