// k3s/firstboot.sh end to end below a temporary root: the payload the ISO would carry (with the
// test stand-ins for the k3s binary and its install.sh, see test/harness/install/), k3s' kubectl
// delegating to the real kubectl against the harness's real API server, and the real helm to
// check the HelmChart manifest renders.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import type { KubeClient } from '../../../lib/kube/client.js';
import { isNotFound } from '../../../lib/kube/errors.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes, type ResourceType } from '../../../lib/kube/resource-types.js';
import {
  ensureControlPlaneBinaries,
  type ControlPlaneBinaries,
} from '../../harness/control-plane/binaries.js';
import { expectedHostFacts, writeHostFixtures } from '../../harness/install/host-facts-fixtures.js';
import { installScripts, run, runOk } from '../../harness/install/scripts.js';
import { deleteNamespace, testClient } from '../../harness/kube.js';
import { HOST_FACTS_CONFIGMAP, hostFactsSchema } from '../../../web/wizard/host-facts.js';
import { waitFor } from '../../harness/processes.js';

// Nodes are registered by the k3s stand-in (as a kubelet would) and removed after the tests.
const nodeType: ResourceType = { group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false };
const STEPS = ['bridge', 'images', 'k3s', 'node-ready', 'chart', 'host-facts', 'setup-code'];

interface HelmChart {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  spec: { targetNamespace: string; createNamespace: boolean; chartContent: string; valuesContent?: string };
}

describe('first boot', () => {
  let kube: KubeClient;
  let binaries: ControlPlaneBinaries;
  let payload: string;
  let scratch: string;
  const namespaces: string[] = [];
  const nodes: string[] = [];

  /** A fresh "installed system": its own root, namespace and node name. */
  async function newSystem(backend = 'kubevirt') {
    const id = randomBytes(3).toString('hex');
    const root = await mkdtemp(join(scratch, 'root-'));
    const namespace = `firstboot-${id}`;
    const node = `firstboot-node-${id}`;
    namespaces.push(namespace);
    nodes.push(node);
    await mkdir(join(root, 'etc/blockhost'), { recursive: true });
    await writeFile(join(root, 'etc/blockhost/firstboot.env'), `BLOCKHOST_BACKEND=${backend}\n`);
    await writeFile(join(root, 'etc/issue'), 'Debian GNU/Linux 12 \\n \\l\n\n');
    const record = join(root, 'k3s-invocations');
    const env: Record<string, string> = {
      BLOCKHOST_ROOT: root,
      BLOCKHOST_PAYLOAD: payload,
      BLOCKHOST_NAMESPACE: namespace,
      BLOCKHOST_NODE_NAME: node,
      FAKE_K3S_RECORD: record,
      FAKE_K3S_KUBECTL: binaries.kubectl,
      FAKE_K3S_NODE_DELAY: '1',
      // lsblk and ip print the fixture host's disks and interfaces.
      ...(await writeHostFixtures(join(root, 'host-fixtures'))),
    };
    const invocations = async () =>
      existsSync(record) ? (await readFile(record, 'utf8')).trim().split('\n') : [];
    const markers = async () =>
      (await readdir(join(root, 'var/lib/blockhost/firstboot'))).filter((f) => !f.startsWith('.')).sort();
    return { root, namespace, node, env, invocations, markers };
  }

  beforeAll(async () => {
    kube = testClient();
    binaries = await ensureControlPlaneBinaries();
    scratch = await mkdtemp(join(tmpdir(), 'bh-firstboot-'));
    payload = join(scratch, 'payload');
    await runOk(installScripts.makePayload, [payload, binaries.helm]);
  });

  afterAll(async () => {
    for (const namespace of namespaces) await deleteNamespace(kube, namespace);
    for (const node of nodes)
      await kube.delete(nodeType, node).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
    await rm(scratch, { recursive: true, force: true });
  });

  it('installs k3s and the images, deploys the chart manifest and issues the setup code, then never runs again', async () => {
    const system = await newSystem();
    const result = await run(installScripts.firstboot, [], { env: system.env });
    expect(result.stderr).toContain('first boot complete');
    expect(result.code).toBe(0);
    expect(await system.markers()).toEqual([...STEPS.map((s) => `${s}.done`), 'complete'].sort());
    expect(result.stderr).toContain("backend 'kubevirt' needs no host bridge; skipped");

    // k3s and the images where k3s' air-gap install expects them.
    const root = system.root;
    expect(await readFile(join(root, 'usr/local/bin/k3s'))).toEqual(await readFile(join(payload, 'k3s')));
    for (const image of ['k3s-airgap-images-amd64.tar', 'controller.tar', 'web.tar']) {
      const source = image.startsWith('k3s') ? join(payload, image) : join(payload, 'images', image);
      expect(await readFile(join(root, 'var/lib/rancher/k3s/agent/images', image))).toEqual(
        await readFile(source),
      );
    }
    expect(parse(await readFile(join(root, 'etc/rancher/k3s/config.yaml'), 'utf8'))).toEqual({
      'write-kubeconfig-mode': '0600',
      'node-name': system.node,
    });
    const invocations = await system.invocations();
    expect(invocations.filter((line) => line.startsWith('install.sh'))).toEqual([
      `install.sh SKIP_DOWNLOAD=true BIN_DIR=${root}/usr/local/bin SYSTEMD_DIR=${root}/etc/systemd/system EXEC=server`,
    ]);
    // The node wait went through k3s' own kubectl.
    expect(invocations).toContain(`k3s kubectl wait --for=condition=Ready node/${system.node} --timeout=5s`);
    expect(existsSync(join(root, 'etc/systemd/system/k3s.service'))).toBe(true);

    // The HelmChart manifest carries the chart itself and our values; helm renders it.
    const manifest = parse(
      await readFile(join(root, 'var/lib/rancher/k3s/server/manifests/blockhost.yaml'), 'utf8'),
    ) as HelmChart;
    expect(manifest).toMatchObject({
      apiVersion: 'helm.cattle.io/v1',
      kind: 'HelmChart',
      metadata: { name: 'blockhost', namespace: 'kube-system' },
      spec: { targetNamespace: system.namespace, createNamespace: true },
    });
    const charts = await readdir(join(payload, 'chart'));
    expect(charts).toHaveLength(1);
    const chart = await readFile(join(payload, 'chart', charts[0] ?? ''));
    expect(Buffer.from(manifest.spec.chartContent, 'base64')).toEqual(chart);
    expect(manifest.spec.valuesContent).toBe(
      (await readFile(join(payload, 'values.yaml'), 'utf8')).trimEnd(),
    );
    const chartFile = join(scratch, 'decoded-chart.tgz');
    const valuesFile = join(scratch, 'values-content.yaml');
    await writeFile(chartFile, Buffer.from(manifest.spec.chartContent, 'base64'));
    await writeFile(valuesFile, manifest.spec.valuesContent ?? '');
    const rendered = await runOk(binaries.helm, ['template', 'blockhost', chartFile, '-f', valuesFile]);
    expect(rendered.stdout).toContain('greeting: "from-payload"');

    // The setup code: in the Secret and on the console.
    const secret = await kube.get<KubeObject & { data: Record<string, string> }>(
      coreTypes.secret,
      'blockhost-setup-code',
      system.namespace,
    );
    const code = Buffer.from(secret.data.code ?? '', 'base64').toString();
    const issue = await readFile(join(root, 'etc/issue'), 'utf8');
    expect(issue).toContain(`One-time code: ${code}`);
    expect(issue).not.toContain('BlockHost is being installed');

    // The host facts, in the wizard's format, written through k3s' kubectl before the setup code.
    const facts = await kube.get<KubeObject & { data: Record<string, string> }>(
      coreTypes.configMap,
      HOST_FACTS_CONFIGMAP,
      system.namespace,
    );
    expect(
      hostFactsSchema.parse({
        blockDevices: JSON.parse(facts.data.blockDevices ?? ''),
        interfaces: JSON.parse(facts.data.interfaces ?? ''),
      }),
    ).toEqual(expectedHostFacts);
    expect(invocations).toContain(
      'k3s kubectl apply --server-side --force-conflicts --field-manager=blockhost-host-facts -f -',
    );
    expect(result.stderr).toMatch(/step chart: done[^]*step host-facts: done[^]*step setup-code: starting/);

    // Logged with timestamps, to the log file as well as the journal.
    const log = await readFile(join(root, 'var/log/blockhost-firstboot.log'), 'utf8');
    for (const step of STEPS)
      expect(log).toMatch(
        new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:]+Z \\[firstboot.sh\\] step ${step}: done$`, 'm'),
      );

    const again = await run(installScripts.firstboot, [], { env: system.env });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('first boot already complete');
    expect(await system.invocations()).toEqual(invocations);
    const status = await run(installScripts.firstboot, ['--status'], { env: system.env });
    expect(status.stdout).toBe(`${STEPS.map((s) => `${s}: done`).join('\n')}\ncomplete\n`);
  });

  it('continues with the next step after being killed, without repeating finished steps', async () => {
    const system = await newSystem();
    // k3s (started by install.sh) registers the node only after a while, so first boot is
    // killed while it waits; k3s keeps running as the real service would.
    const env = { ...system.env, FAKE_K3S_NODE_DELAY: '6' };
    const child = spawn(installScripts.firstboot, [], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
      detached: true,
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const logFile = join(system.root, 'var/log/blockhost-firstboot.log');
    await waitFor(
      'first boot to wait for the node',
      async () =>
        existsSync(logFile) && (await readFile(logFile, 'utf8')).includes('step node-ready: starting'),
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    const group = -child.pid!;
    process.kill(group, 'SIGKILL');
    await exited;
    // Every process of the killed run is gone (signal 0 only checks) before the next run starts.
    await waitFor('the killed run to be gone', async () => {
      try {
        process.kill(group, 0);
        return false;
      } catch {
        return true;
      }
    });
    expect(await system.markers()).toEqual(['bridge.done', 'images.done', 'k3s.done']);
    expect(await readFile(join(system.root, 'etc/issue'), 'utf8')).toContain('BlockHost is being installed');

    const resumed = await run(installScripts.firstboot, [], { env });
    expect([resumed.code, resumed.stderr]).toEqual([0, expect.stringContaining('first boot complete')]);
    for (const step of ['bridge', 'images', 'k3s'])
      expect(resumed.stderr).toContain(`step ${step}: already done`);
    expect(resumed.stderr).toContain('step node-ready: done');
    expect(await system.markers()).toEqual([...STEPS.map((s) => `${s}.done`), 'complete'].sort());
    expect((await system.invocations()).filter((line) => line.startsWith('install.sh'))).toHaveLength(1);
    expect(await readFile(join(system.root, 'etc/issue'), 'utf8')).toContain('One-time code: ');
  });

  it('fails on a node that never becomes Ready and picks up from there on the next run', async () => {
    const system = await newSystem();
    const failed = await run(installScripts.firstboot, [], {
      env: { ...system.env, FAKE_K3S_NODE_READY: 'never', BLOCKHOST_NODE_READY_TIMEOUT: '3' },
    });
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain(`node ${system.node} was not Ready after 3s`);
    expect(await system.markers()).toEqual(['bridge.done', 'images.done', 'k3s.done']);
    // As after a reboot: k3s starts again (here: registers the node), first boot resumes.
    await runOk('sh', [installScripts.fakeInstall], {
      env: {
        ...system.env,
        INSTALL_K3S_SKIP_DOWNLOAD: 'true',
        INSTALL_K3S_BIN_DIR: join(system.root, 'usr/local/bin'),
        INSTALL_K3S_SYSTEMD_DIR: join(system.root, 'etc/systemd/system'),
      },
    });
    const resumed = await run(installScripts.firstboot, [], { env: system.env });
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain('step k3s: already done');
    expect(await system.markers()).toContain('complete');
  });

  it('still issues the setup code when the host facts cannot be read, and says how to retry', async () => {
    const system = await newSystem();
    const result = await run(installScripts.firstboot, [], {
      env: { ...system.env, BLOCKHOST_LSBLK: 'false' },
    });
    expect([result.code, result.stderr]).toEqual([0, expect.stringContaining('first boot complete')]);
    expect(result.stderr).toContain('lsblk failed; the host facts are unchanged');
    expect(result.stderr).toContain('WARNING: fix the cause, then run: blockhost-host-facts');
    expect(await system.markers()).toEqual([...STEPS.map((s) => `${s}.done`), 'complete'].sort());
    expect(await readFile(join(system.root, 'etc/issue'), 'utf8')).toContain('One-time code: ');
    // The wizard then has no facts (it asks for less); the command fills them in later.
    await expect(kube.get(coreTypes.configMap, HOST_FACTS_CONFIGMAP, system.namespace)).rejects.toThrow();
    await runOk(installScripts.hostFacts, [], {
      env: { ...system.env, BLOCKHOST_KUBECTL: binaries.kubectl, BLOCKHOST_LOG_FILE: '/dev/null' },
    });
    expect((await kube.get(coreTypes.configMap, HOST_FACTS_CONFIGMAP, system.namespace)).metadata.name).toBe(
      HOST_FACTS_CONFIGMAP,
    );
  });

  it('refuses an incomplete payload or a bad setting before changing anything', async () => {
    const system = await newSystem();
    const incomplete = join(scratch, 'incomplete-payload');
    await runOk('cp', ['-R', payload, incomplete]);
    await rm(join(incomplete, 'chart'), { recursive: true });
    await rm(join(incomplete, 'install.sh'));
    const result = await run(installScripts.firstboot, [], {
      env: { ...system.env, BLOCKHOST_PAYLOAD: incomplete },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("install.sh (k3s' install script)");
    expect(result.stderr).toContain('chart/<chart>.tgz');
    expect(result.stderr).toContain('nothing changed');
    expect(await system.markers()).toEqual([]);
    expect(existsSync(join(system.root, 'usr/local/bin'))).toBe(false);

    await writeFile(join(system.root, 'etc/blockhost/firstboot.env'), 'BLOCKHOST_BACKEND=vmware\n');
    const badBackend = await run(installScripts.firstboot, [], { env: system.env });
    expect(badBackend.code).not.toBe(0);
    expect(badBackend.stderr).toContain("unknown BLOCKHOST_BACKEND 'vmware'");
    expect(await system.markers()).toEqual([]);
  });
});
