// images/Dockerfile cannot be built here (no container engine), so this checks what can be
// checked without one: its shape (multi-stage, non-root, the chart's UID), that the entry points the
// chart runs exist and are copied into the right image, that the build stage's transpile step yields
// JavaScript that runs under plain Node, and that the runtime code needs production dependencies only
// (the image installs no others).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { build } from 'esbuild';
import { ChartTools, repoRoot, valueSets, type Manifest } from './helm.js';

const run = promisify(execFile);

interface Stage {
  from: string;
  name: string;
  instructions: { op: string; args: string }[];
}

/** The stages of a Dockerfile, with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const [, from = '', name = ''] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ from, name, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

const dockerfile = join(repoRoot, 'images', 'Dockerfile');
let dockerfileText: string;
let stages: Stage[];
let deployments: Manifest[];
const stage = (name: string) => stages.find((s) => s.name === name)!;

/** A stage with the stages it builds FROM, nearest first. */
const lineage = (name: string): Stage[] => {
  const own = stage(name);
  return own && stages.some((s) => s.name === own.from) ? [own, ...lineage(own.from)] : own ? [own] : [];
};

/** The files a target image holds under /app, by top-level path (from its COPY lines). */
const copiedPaths = (target: string) =>
  lineage(target).flatMap((s) =>
    s.instructions
      .filter((i) => i.op === 'COPY' && i.args.startsWith('--from=build'))
      .map((i) => i.args.split(/\s+/)[1]!.replace(/^\/app\//, '')),
  );

/** Node entry points the chart starts, by image target: `node /app/<path>.js`. */
function chartEntryPoints(): { target: string; path: string }[] {
  return deployments.map((deployment) => {
    const container = (
      deployment.spec as { template: { spec: { containers: { image: string; command: string[] }[] } } }
    ).template.spec.containers[0]!;
    const target = /\/blockhost\/(controller|web):/.exec(container.image)?.[1] ?? container.image;
    return { target, path: container.command[1]!.replace(/^\/app\//, '') };
  });
}

beforeAll(async () => {
  dockerfileText = await readFile(dockerfile, 'utf8');
  stages = parseDockerfile(dockerfileText);
  const tools = await ChartTools.create();
  deployments = (await tools.template(valueSets.default)).filter((o) => o.kind === 'Deployment');
  await tools.cleanup();
}, 120_000);

describe('images/Dockerfile', () => {
  test('is multi-stage with a controller and a web target on Node 24', () => {
    expect(stages.map((s) => s.name)).toEqual(expect.arrayContaining(['deps', 'build', 'controller', 'web']));
    expect(dockerfileText).toMatch(/^ARG NODE_IMAGE=node:24-\S*slim$/m);
    for (const s of stages)
      expect([s.name, s.from]).toEqual([s.name, expect.stringMatching(/^(\$\{NODE_IMAGE\}|deps|runtime)$/)]);
  });

  test.each(['controller', 'web'])('the %s image runs as the chart’s non-root UID', async (target) => {
    const users = lineage(target).flatMap((s) => s.instructions.filter((i) => i.op === 'USER'));
    expect(users[0]?.args).toBe('10001:10001');
    const podUser = (
      deployments[0]!.spec as { template: { spec: { securityContext: { runAsUser: number } } } }
    ).template.spec.securityContext.runAsUser;
    expect(podUser).toBe(10001);
  });

  test('final images copy built files only, never the build context', () => {
    for (const target of ['controller', 'web'])
      for (const s of lineage(target).filter((s) => !['deps', 'build'].includes(s.name)))
        for (const copy of s.instructions.filter((i) => i.op === 'COPY'))
          expect([target, copy.args]).toEqual([target, expect.stringMatching(/^--from=(deps|build) /)]);
  });

  test('the controller image has the programs the libvirt backend runs', () => {
    const installs = stage('controller')
      .instructions.filter((i) => i.op === 'RUN')
      .map((i) => i.args)
      .join(' ');
    expect(installs).toMatch(/apt-get install .*libvirt-clients/);
    expect(installs).toMatch(/apt-get install .*genisoimage/);
  });

  test('every entry point the chart runs has its source, and its image copies it', () => {
    const entries = chartEntryPoints();
    expect(entries.map((e) => `${e.target} ${e.path}`).sort()).toEqual([
      'controller controllers/main.js',
      'controller webhooks/main.js',
      'web web/main.js',
    ]);
    for (const { target, path } of entries) {
      expect([path, existsSync(join(repoRoot, path.replace(/\.js$/, '.ts')))]).toEqual([path, true]);
      expect(copiedPaths(target)).toContain(path.split('/')[0]);
    }
  });

  test('.dockerignore lets in every path the Dockerfile copies from the build context', async () => {
    const allowed = (await readFile(join(repoRoot, '.dockerignore'), 'utf8'))
      .split('\n')
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    const fromContext = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(fromContext.length).toBeGreaterThan(0);
    for (const path of fromContext) expect([path, allowed.includes(path)]).toEqual([path, true]);
  });
});

describe('the build stage’s output', () => {
  let dir: string;

  beforeAll(async () => {
    // The build stage's COPY lines and RUN step, in a scratch copy of the sources.
    dir = await mkdtemp(join(tmpdir(), 'blockhost-image-build-'));
    for (const copy of stage('build').instructions.filter((i) => i.op === 'COPY'))
      await cp(join(repoRoot, copy.args.split(/\s+/)[0]!), join(dir, copy.args.split(/\s+/)[1]!), {
        recursive: true,
      });
    await cp(join(repoRoot, 'package.json'), join(dir, 'package.json'));
    await symlink(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
    for (const step of stage('build').instructions.filter((i) => i.op === 'RUN'))
      await run('bash', ['-euo', 'pipefail', '-c', step.args], { cwd: dir });
  }, 120_000);

  afterAll(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  test('has no test files', async () => {
    const { stdout } = await run(
      'find',
      ['.', '-path', './node_modules', '-prune', '-o', '-name', '*.test.*', '-print'],
      {
        cwd: dir,
      },
    );
    expect(stdout.trim()).toBe('');
  });

  test.each(['controllers/main.js', 'webhooks/main.js', 'web/main.js'])(
    '%s runs under plain Node (no tsx) and answers --help',
    async (entry) => {
      const { stdout } = await run(process.execPath, [join(dir, entry), '--help'], { cwd: dir });
      expect(stdout).toMatch(/usage/i);
    },
  );

  test.each(['controllers/main.ts', 'webhooks/main.ts', 'web/main.ts'])(
    '%s imports production dependencies only (the image has no others)',
    async (entry) => {
      const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
      };
      const result = await build({
        entryPoints: [join(repoRoot, entry)],
        bundle: true,
        write: false,
        platform: 'node',
        format: 'esm',
        packages: 'external',
        metafile: true,
        logLevel: 'silent',
      });
      const packages = new Set(
        Object.values(result.metafile.inputs)
          .flatMap((input) => input.imports)
          .filter((i) => i.external && !i.path.startsWith('node:') && !builtinModules.includes(i.path))
          .map((i) =>
            i.path
              .split('/')
              .slice(0, i.path.startsWith('@') ? 2 : 1)
              .join('/'),
          ),
      );
      expect(packages.size).toBeGreaterThan(0);
      for (const name of packages) expect([name, name in pkg.dependencies]).toEqual([name, true]);
    },
  );
});
