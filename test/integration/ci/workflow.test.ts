// The GitHub workflow cannot run on the development machines (no GitHub runner), so every test run
// checks it statically with actionlint (which also runs shellcheck on its scripts) and checks that
// it runs the one CI entry point, `.ci/run`, rather than a build path of its own.
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const workflow = join(root, '.github', 'workflows', 'ci.yml');

interface Workflow {
  jobs: Record<string, { steps: { run?: string }[] }>;
}

describe('the GitHub workflow', () => {
  it('passes actionlint and shellcheck', async () => {
    const { stdout } = await run('bash', [join(root, 'test', 'harness', 'tools', 'build-actionlint.sh')]);
    const actionlint = stdout.trim().split('\n').at(-1)!;
    const result = await run(actionlint, ['-no-color', workflow]).then(
      () => '',
      (error: { stdout?: string; stderr?: string }) =>
        `${error.stdout ?? ''}${error.stderr ?? ''}` || String(error),
    );
    expect(result).toBe('');
  }, 600_000);

  it('runs .ci/run, the entry point every CI here runs, and nothing else that builds or tests', async () => {
    const { jobs } = parse(await readFile(workflow, 'utf8')) as Workflow;
    const commands = Object.values(jobs).flatMap((job) => job.steps.flatMap((step) => step.run ?? []));
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatch(/(^|\s)\.ci\/run$/);
  });
});
