/**
 * Wallet login benchmarks (issue 10). `wallet-login-callback`: a real TCG guest from the product
 * image, its sshd and pam_web3, the real OpenSSH client, the web server's signing API and the
 * login-signature controller on a real API server: from the moment the signature is submitted (the
 * page's POST) until ssh has run `id` in the guest. Its reference, in the same run: the same login
 * with the signature pasted into ssh (no web server, controller or guest-agent hop).
 * `pam-module-time`: the module's own time per login (cargo example) against a bare k256 recovery.
 * `guest-image-build`: the product image cold (empty cache, warm cargo) and cached, and its size.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerLoginSignatureController } from '../../controllers/login-signature/controller.js';
import { LibvirtBackend } from '../../controllers/vm/backends/libvirt/driver.js';
import { backendFactories } from '../../controllers/vm/backends/index.js';
import { BackendProvider } from '../../controllers/vm/backends/provider.js';
import { ensureGuestImage, guestImageBytes } from '../../images/guest/guest-image.js';
import { exampleHostConfig } from '../../lib/api/v1alpha1/examples.js';
import { blockhostTypes, type HostConfig } from '../../lib/api/v1alpha1/index.js';
import { signMessage } from '../../lib/crypto/index.js';
import { createLogger } from '../../lib/log.js';
import { loginMessage } from '../../lib/login-signature/request.js';
import { Manager } from '../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../lib/runtime/metrics.js';
import { signFace } from '../../web/sign/face.js';
import { startTestWebServer } from '../harness/browser/web-server.js';
import { anvilAccount, anvilPrivateKey } from '../harness/chain/anvil.js';
import type { TestCluster } from '../harness/cluster.js';
import {
  loginWith,
  pasteSignature,
  runningVmObject,
  type WalletPrompt,
} from '../harness/e2e/wallet-login.js';
import { createTestNamespace, deleteNamespace } from '../harness/kube.js';
import { desiredGuest } from '../harness/libvirt/desired-guest.js';
import { LibvirtEnvironment } from '../harness/libvirt/environment.js';
import { LibvirtDaemon } from '../harness/libvirt/libvirtd.js';
import { against, fromSamples, writeResult } from './results.js';

const log = createLogger('bench-wallet-login', { level: process.env.LOG_LEVEL ?? 'warn' });
const OWNER = 4;
const MACHINE = 'bench-login';
const BOOT_TIMEOUT_MS = 6 * 60_000;

export async function walletLoginCallback(cluster: TestCluster, runs = 10): Promise<void> {
  const kube = cluster.client();
  const namespace = await createTestNamespace(kube, 'bench-login');
  const daemon = await LibvirtDaemon.start();
  const env = await LibvirtEnvironment.start({ guestImage: true });
  const web = await startTestWebServer({ namespace, kube, faces: [signFace], log });
  const manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
  const driver = new LibvirtBackend(env.settings, log);
  let backendId: string | undefined;
  let running: Promise<unknown> | undefined;
  try {
    const host = structuredClone(exampleHostConfig) as HostConfig;
    host.spec.backend = { type: 'libvirt', libvirt: env.settings } as HostConfig['spec']['backend'];
    host.spec.ipv4Pool = env.ipv4Pool;
    await kube.create(blockhostTypes.hostConfig, host);
    const desired = desiredGuest(env, {
      namespace,
      name: MACHINE,
      ownerWallet: anvilAccount(OWNER).address,
      login: { secretKey: randomBytes(32).toString('hex'), signingUrl: `${web.url}/sign` },
    });
    const address = desired.addresses.ipv4!;
    const created = await driver.create(desired);
    backendId = created.id;
    await runningVmObject(kube, namespace, {
      name: MACHINE,
      backend: 'libvirt',
      owner: anvilAccount(OWNER).address,
      backendId: created.id,
    });
    const backends = new BackendProvider(backendFactories, { kube, namespace, log });
    registerLoginSignatureController(manager, { backends, namespace });
    running = manager.start();

    const target = { host: address, port: 22, user: 'admin' };
    const booted = performance.now();
    // The first login that works: the guest has booted and sshd runs our config.
    for (;;) {
      const attempt = await loginWith(target, pasteSignature(anvilPrivateKey(OWNER))).catch(() => undefined);
      if (attempt?.stdout.trim() === 'admin') break;
      if (performance.now() - booted > BOOT_TIMEOUT_MS)
        throw new Error('no login into the guest within 6 minutes');
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }

    const callback: number[] = [];
    const paste: number[] = [];
    for (let i = 0; i < runs; i += 1) {
      let submitted = 0;
      const viaPage = await loginWith(target, async (p: WalletPrompt) => {
        submitted = performance.now();
        const answer = await fetch(`${web.url}/sign/api/sessions/${p.session}/signature`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: web.url },
          body: JSON.stringify({
            machine: p.machine,
            code: p.code,
            signature: signMessage(anvilPrivateKey(OWNER), loginMessage(p.machine, p.code)),
          }),
        });
        if (answer.status !== 200)
          throw new Error(`the signing API answered ${answer.status}: ${await answer.text()}`);
        return '';
      });
      if (viaPage.stdout.trim() !== 'admin') throw new Error(`callback login failed: ${viaPage.stderr}`);
      callback.push((performance.now() - submitted) / 1000);

      let typed = 0;
      const pasted = await loginWith(target, (p) => {
        typed = performance.now();
        return pasteSignature(anvilPrivateKey(OWNER))(p);
      });
      if (pasted.stdout.trim() !== 'admin') throw new Error(`paste login failed: ${pasted.stderr}`);
      paste.push((performance.now() - typed) / 1000);
    }
    const pasteP50 = fromSamples('wallet-login-paste', '', 's', paste).p50!;
    writeResult(
      against(
        fromSamples(
          'wallet-login-callback',
          'signature submitted on the signing page → id ran in the guest (TCG)',
          's',
          callback,
        ),
        'the same login with the signature pasted into ssh (p50)',
        pasteP50,
      ),
    );
  } finally {
    manager.stop();
    await running;
    if (backendId) await driver.delete(backendId).catch(() => undefined);
    await web.close();
    await kube.delete(blockhostTypes.hostConfig, 'host').catch(() => undefined);
    await deleteNamespace(kube, namespace).catch(() => undefined);
    await env.stop([namespace]);
    await daemon.stop();
  }
}

const crate = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'guest', 'pam-web3');

export async function pamModuleTime(iterations = 200): Promise<void> {
  const cargo = process.env.PATH?.split(':').some((dir) => dir.endsWith('.cargo/bin'))
    ? 'cargo'
    : join(process.env.HOME ?? '/root', '.cargo', 'bin', 'cargo');
  const out = execFileSync(
    cargo,
    ['run', '--quiet', '--release', '--locked', '--example', 'login_time', '--', String(iterations)],
    { cwd: crate, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const measured = JSON.parse(out.trim().split('\n').at(-1)!) as {
    iterations: number;
    module_p50_us: number;
    module_p95_us: number;
    recover_p50_us: number;
  };
  writeResult(
    against(
      {
        benchmark: 'pam-module-time',
        metric: "pam_web3's own time per login (config, code, session file, recovery, cleanup)",
        unit: 'µs',
        value: measured.module_p50_us,
        p50: measured.module_p50_us,
        p95: measured.module_p95_us,
        samples: measured.iterations,
      },
      'a bare k256 recovery of the same signature (p50)',
      measured.recover_p50_us,
    ),
  );
}

/** Limits the image is held to (there is no peer image to build here). */
const COLD_BUILD_LIMIT_S = 300;
const IMAGE_SIZE_LIMIT_MIB = 1024;

export async function guestImageBuild(): Promise<void> {
  const cache = await mkdtemp(join(tmpdir(), 'bh-image-bench-'));
  const previous = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = cache;
  try {
    let began = performance.now();
    const image = await ensureGuestImage();
    const cold = (performance.now() - began) / 1000;
    began = performance.now();
    await ensureGuestImage();
    const cached = (performance.now() - began) / 1000;
    const mib = (await guestImageBytes(image)) / 2 ** 20;
    writeResult(
      against(
        {
          benchmark: 'guest-image-build-cold',
          metric: 'guest image build, empty cache (cargo warm)',
          unit: 's',
          value: cold,
        },
        'the limit',
        COLD_BUILD_LIMIT_S,
      ),
    );
    writeResult(
      against(
        {
          benchmark: 'guest-image-build-cached',
          metric: 'guest image, found in the cache',
          unit: 's',
          value: cached,
        },
        'the cold build of this run',
        cold,
      ),
    );
    writeResult(
      against(
        {
          benchmark: 'guest-image-size',
          metric: 'guest image files (qcow2, kernel, initrd)',
          unit: 'MiB',
          value: mib,
        },
        'the limit',
        IMAGE_SIZE_LIMIT_MIB,
      ),
    );
  } finally {
    if (previous === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = previous;
    await rm(cache, { recursive: true, force: true });
  }
}
