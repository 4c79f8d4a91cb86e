// The whole life of one purchase, the same for every backend: buy on chain → Subscription Active
// with a running VM and one NFT whose data decrypts to the VM's address → the NFT changes hands and
// the guest's GECOS follows → chain time passes the expiry → suspended (VM stopped, disk kept) → an
// extension resumes it → the grace period ends → VM and backend VM gone. Real control plane, anvil
// and controller manager; each backend test supplies how to look at its backend independently.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Hex } from 'viem';
import { extendSubscription } from '../../../contracts/deploy.js';
import { BlockhostSubscriptionsAbi } from '../../../contracts/generated/artifacts.js';
import { registerControllers } from '../../../controllers/setup.js';
import type { BackendFactory } from '../../../controllers/vm/backends/provider.js';
import { examplePlan } from '../../../lib/api/v1alpha1/examples.js';
import {
  API_VERSION,
  blockhostTypes,
  subscriptionResourceName,
  type BackendType,
  type HostConfigSpec,
  type Plan,
  type Subscription,
  type VM,
} from '../../../lib/api/v1alpha1/index.js';
import {
  decryptConnectionDetails,
  encryptUserSignature,
  publicKeyFromPrivateKey,
  signMessage,
} from '../../../lib/crypto/index.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { createLogger } from '../../../lib/log.js';
import { Manager } from '../../../lib/runtime/manager.js';
import { RuntimeMetrics } from '../../../lib/runtime/metrics.js';
import { anvilPrivateKey } from '../chain/anvil.js';
import { adminCredentialMinted, LOCAL_HOSTNAME, useLocalChain } from '../chain/host-config.js';
import { startLocalChain, type LocalChain } from '../chain/local-chain.js';
import { transferNft } from '../chain/purchase.js';
import {
  CLUSTER_LOCK_WAIT_MS,
  claimHostConfig,
  createTestNamespace,
  deleteNamespace,
  eventually,
  testClient,
  withHostConfigClaimWait,
} from '../kube.js';
import { ssh2WalletLogin } from '../ssh/ssh2-login.js';
import { parseWalletPrompt, type SshOutcome } from '../ssh/wallet-login.js';
import type { Browser } from 'playwright-core';
import { signFace } from '../../../web/sign/face.js';
import type { WebServer } from '../../../web/server.js';
import { launchBrowser } from '../browser/browser.js';
import { startTestWebServer } from '../browser/web-server.js';
import {
  callbackSignature,
  loginWith,
  pasteSignature,
  signingPageSignature,
  type LoginTarget,
} from './wallet-login.js';

export type BackendPower = 'running' | 'stopped' | 'absent';

/** One backend as the flow needs it: its HostConfig settings and independent ways to inspect it. */
export interface FlowBackend {
  spec: Pick<HostConfigSpec, 'backend'> & Partial<HostConfigSpec>;
  planImage: string;
  planSize: { cpu: number; memoryMiB: number; diskGiB: number };
  /** Secrets the driver needs in the controller namespace (credentials). */
  secrets?: (namespace: string) => KubeObject[];
  /** Replaces the product driver factory (never for libvirt or Proxmox: those use the real one). */
  factory?: BackendFactory;
  power(vm: VM): Promise<BackendPower>;
  /** Runs a program in the guest (through the agent, not the driver); its stdout. Real guests only. */
  guestRun?(vm: VM, path: string, args: string[]): Promise<string>;
  /** The login user's GECOS read from the guest; absent where no guest can be read. */
  gecos?(vm: VM): Promise<string>;
  /** Whether something answers on the minted host and port (real guests only). */
  reachable?(host: string, port: number): Promise<boolean>;
  /** How long a boot may take (a real guest under TCG: minutes). */
  bootTimeoutMs: number;
  stop(namespace: string | undefined): Promise<void>;
}

const DAY_S = 86_400;

export function describePurchaseFlow(
  title: string,
  type: BackendType,
  /** Sets up the backend for VMs in `namespace` (the test's own). */
  start: (namespace: string) => Promise<FlowBackend>,
  /** walletLogin: the guest runs sshd and pam_web3 reachable from here, so logins are tested. */
  options: { walletLogin?: boolean } = {},
): void {
  describe(title, () => {
    let kube: KubeClient;
    let namespace: string;
    let chain: LocalChain;
    let backend: FlowBackend;
    let manager: Manager;
    let running: Promise<unknown>;
    let release: () => Promise<void>;
    let id: bigint;
    let tokenId: bigint;
    let web: WebServer | undefined;
    let browser: Browser | undefined;
    const planName = `flow-${type}-${Date.now().toString(36)}`;
    const buyerKey = anvilPrivateKey(4);
    const buyerSignature = signMessage(buyerKey, 'blockhost-access');

    const subscription = () =>
      kube.get<Subscription>(blockhostTypes.subscription, subscriptionResourceName(id), namespace);
    const vm = () => kube.get<VM>(blockhostTypes.vm, subscriptionResourceName(id), namespace);
    const vmGone = () =>
      vm().then(
        () => false,
        () => true,
      );
    /** Nudges a reconcile now instead of waiting up to the 60 s expiry timer. */
    const touch = () =>
      kube.patch(
        blockhostTypes.subscription,
        subscriptionResourceName(id),
        namespace,
        { metadata: { annotations: { 'test/touch': String(Date.now()) } } },
        'merge',
      );
    const nft = <T>(functionName: string, args: unknown[] = []) => chain.readNft<T>(functionName, args);
    /** Moves chain time to `seconds` past the given instant and mines a block there. */
    const advanceChainPast = async (instantMs: number, seconds: number) => {
      const head = await chain.publicClient.getBlock({ blockTag: 'latest' });
      const delta = Math.ceil(instantMs / 1000) - Number(head.timestamp) + seconds;
      if (delta > 0) await chain.anvil.rpc('evm_increaseTime', [delta]);
      // Two blocks: expiry is confirmed one block deep, at that block's timestamp.
      await chain.anvil.mine(2);
      // The controller's chain clock re-reads the head at most once a second.
      await new Promise((resolve) => setTimeout(resolve, 1500));
    };

    beforeAll(
      async () => {
        kube = testClient();
        namespace = await createTestNamespace(kube, `flow-${type}`);
        // The backend first: libvirt's takes the guest lock, and a file waiting for it must not
        // hold the HostConfig lock every other HostConfig test waits for meanwhile.
        backend = await start(namespace);
        release = await claimHostConfig(kube);
        for (const secret of backend.secrets?.(namespace) ?? []) await kube.create(coreTypes.secret, secret);
        chain = await startLocalChain({ plans: [] });
        if (options.walletLogin) {
          // The guests' login prompts link to this server's signing page (spec.signup.url).
          [web, browser] = await Promise.all([
            startTestWebServer({
              namespace,
              faces: [signFace],
              log: createLogger('flow-web', { level: 'error' }),
            }),
            launchBrowser(),
          ]);
        }
        await useLocalChain(
          kube,
          namespace,
          chain,
          // Chain time runs ahead of the host clock here: past a 30-day purchase, a 30-day extension
          // and the 7-day grace period (68 days and more); production believes 5 minutes.
          { confirmations: 1, pollIntervalSeconds: 1, maxBlockTimeAheadSeconds: 90 * 86_400 },
          {
            ipv6: { mode: 'none', allocationSize: 64 },
            ...(web && { signup: { hostname: LOCAL_HOSTNAME, url: `${web.url}/` } }),
            ...backend.spec,
          },
        );
        await kube.create(blockhostTypes.plan, {
          apiVersion: API_VERSION,
          kind: 'Plan',
          metadata: { name: planName },
          spec: { ...examplePlan.spec, size: { ...backend.planSize, image: backend.planImage } },
        } as Plan);
        const log = createLogger(`flow-${type}`);
        manager = new Manager({ client: kube, log, metrics: new RuntimeMetrics({ processMetrics: false }) });
        registerControllers(manager, {
          namespace,
          log,
          ...(backend.factory && { backendFactories: { [type]: backend.factory } }),
          vm: { observeIntervalMs: 2_000, transitionPollMs: 1_000, shutdownTimeoutMs: 60_000 },
        });
        running = manager.start();
        await eventually(
          'plan on chain',
          async () => (await kube.get<Plan>(blockhostTypes.plan, planName)).status?.onChainPlanId === '1',
          60_000,
        );
        // Setup mints the admin credential (token 0) first; the NFT counts below start after it.
        await adminCredentialMinted(kube);
      },
      // The HostConfig lock's wait, a backend's guest lock's (libvirt's real guests), the setup.
      withHostConfigClaimWait(CLUSTER_LOCK_WAIT_MS + 600_000),
    );

    afterAll(async () => {
      // VMs are finalized (backend VMs removed) while the controllers still run.
      if (namespace) await deleteNamespace(kube, namespace).catch(() => undefined);
      manager?.stop();
      await running;
      await kube.delete(blockhostTypes.plan, planName).catch(() => undefined);
      await chain?.stop();
      await browser?.close();
      await web?.close();
      await backend?.stop(namespace);
      await release?.();
    }, 300_000);

    it('a purchase on chain becomes a running VM and one NFT that decrypts to its address', async () => {
      const supplyBefore = await nft<bigint>('totalSupply');
      const server = publicKeyFromPrivateKey(anvilPrivateKey(0));
      ({ subscriptionId: id } = await chain.buy(4, {
        planId: 1n,
        days: 30n,
        userEncrypted: encryptUserSignature(server, buyerSignature) as Hex,
      }));
      await chain.anvil.mine(1);
      await eventually(
        'Active',
        async () => (await subscription()).status?.phase === 'Active',
        backend.bootTimeoutMs,
      );
      const sub = await subscription();
      const machine = await vm();
      expect(machine.status?.phase).toBe('Running');
      expect(await backend.power(machine)).toBe('running');
      tokenId = BigInt(sub.status!.nft!.tokenId!);
      expect(await nft<bigint>('totalSupply')).toBe(supplyBefore + 1n);
      expect(await nft<string>('ownerOf', [tokenId])).toBe(chain.wallet(4).account.address);
      const details = decryptConnectionDetails(buyerSignature, await nft<Hex>('getUserEncrypted', [tokenId]));
      // The address the VM is reached at: its pool address, or where the backend assigns addresses
      // (KubeVirt on the pod network) the one it reports, with no pool address taken.
      const reachedAt = machine.spec.network?.ipv4 ?? machine.status?.addresses?.ipv4;
      expect(details).toEqual({ hostname: reachedAt, port: 22, username: 'admin' });
      expect(machine.status?.addresses?.ipv4).toBe(details.hostname);
      // sshd starts with our config (cloud-init runs before it), a little after the agent answers.
      if (backend.reachable)
        await eventually(
          `sshd at ${details.hostname}:${details.port}`,
          () => backend.reachable!(details.hostname, details.port),
          120_000,
        );
    }, 900_000);

    let target: LoginTarget;
    /** The outcome itself when it is not a refusal, so a failing check shows what happened. */
    const loginRefused = (outcome: SshOutcome) =>
      outcome.exitCode === 255 && /Permission denied/.test(outcome.stderr) ? true : outcome;
    if (options.walletLogin)
      it('the buyer logs in with the wallet, by paste and by callback; everything else is refused', async () => {
        const machine = await vm();
        target = { host: machine.spec.network!.ipv4!, port: 22, user: machine.spec.cloudInit.username };
        const pasted = await loginWith(target, pasteSignature(buyerKey));
        expect(pasted.stdout.trim()).toBe(target.user);
        expect(pasted.exitCode).toBe(0);
        expect(pasted.prompts[0]).toContain('=== Web3 Authentication ===');
        expect(pasted.prompts[0]).toContain(`Machine: ${machine.metadata.name}`);
        expect(pasted.prompts[0]).toMatch(/Press Enter after signing in browser, or paste signature: $/);

        // The customer's way: the prompt's link opened in Chromium, signed there, Enter in ssh.
        expect(new URL(pasted.prompts[0]!.match(/Sign at: (\S+)/)![1]!).origin).toBe(web!.url);
        const page: { notice?: string } = {};
        const signed = await loginWith(target, signingPageSignature(browser!, buyerKey, page));
        expect(page.notice).toMatch(/^Signed in/);
        expect(signed.stdout.trim()).toBe(target.user);
        const outcome: { phase?: string; reason?: string } = {};
        const called = await loginWith(target, callbackSignature(kube, namespace, buyerKey, outcome));
        expect(outcome).toEqual({ phase: 'Delivered', reason: '' });
        expect(called.stdout.trim()).toBe(target.user);

        // Someone else's wallet, by paste and by callback: refused, and the callback writes nothing.
        expect(loginRefused(await loginWith(target, pasteSignature(anvilPrivateKey(6))))).toBe(true);
        const refusedPage: { notice?: string } = {};
        expect(
          loginRefused(
            await loginWith(target, signingPageSignature(browser!, anvilPrivateKey(6), refusedPage)),
          ),
        ).toBe(true);
        expect(refusedPage.notice).toMatch(/not the wallet of this VM/);
        const wrong: { phase?: string; reason?: string } = {};
        expect(
          loginRefused(
            await loginWith(target, callbackSignature(kube, namespace, anvilPrivateKey(6), wrong)),
          ),
        ).toBe(true);
        expect(wrong.phase).toBe('Refused');
        expect(wrong.reason).toMatch(/^WrongWallet: /);
        // A signature of an earlier code, garbage, an oversized answer, another user: refused.
        let earlier = '';
        await loginWith(target, (p) => (earlier = pasteSignature(buyerKey)(p)));
        expect(loginRefused(await loginWith(target, () => earlier))).toBe(true);
        expect(loginRefused(await loginWith(target, () => 'not a signature'))).toBe(true);
        expect(loginRefused(await loginWith(target, () => `0x${'ab'.repeat(3000)}`))).toBe(true);
        expect(loginRefused(await loginWith({ ...target, user: 'root' }, pasteSignature(buyerKey)))).toBe(
          true,
        );
        // A second client (ssh2, not OpenSSH) sees the same prompt and gets the same answers.
        const viaSsh2 = await ssh2WalletLogin({
          ...target,
          command: 'id -un',
          answer: (round) =>
            pasteSignature(buyerKey)(parseWalletPrompt(round.instructions + round.prompts.join(''))),
        });
        expect(viaSsh2).toMatchObject({ authenticated: true, exitCode: 0, stdout: `${target.user}\n` });
        const wrongSsh2 = await ssh2WalletLogin({
          ...target,
          command: 'id -un',
          answer: (round) =>
            pasteSignature(anvilPrivateKey(6))(
              parseWalletPrompt(round.instructions + round.prompts.join('')),
            ),
        });
        expect(wrongSsh2.authenticated).toBe(false);
        // An expired code: the guest's TTL made 2 s, the right signature typed after 4 s.
        const config = '/etc/pam_web3/config.toml';
        const ttl = (seconds: number) =>
          backend.guestRun!(machine, '/usr/bin/sed', [
            '-i',
            `s/^otp_ttl_seconds = .*/otp_ttl_seconds = ${seconds}/`,
            config,
          ]);
        await ttl(2);
        const late = await loginWith(target, async (p) => {
          await new Promise((resolve) => setTimeout(resolve, 4000));
          return pasteSignature(buyerKey)(p);
        });
        await ttl(300);
        expect(loginRefused(late)).toBe(true);
        // The guest is still fine after all of that.
        expect((await loginWith(target, pasteSignature(buyerKey))).stdout.trim()).toBe(target.user);
      }, 300_000);

    it("writes the NFT into the guest's GECOS, and follows the NFT to a new holder", async () => {
      const buyer = chain.wallet(4).account.address;
      const ownerSynced = async () => (await vm()).status?.conditions?.find((c) => c.type === 'OwnerSynced');
      if (backend.gecos) {
        await eventually(
          'GECOS synced',
          async () => (await vm()).status?.appliedGecos === `wallet=${buyer},nft=${tokenId}`,
          120_000,
        );
        expect(await backend.gecos(await vm())).toBe(`wallet=${buyer},nft=${tokenId}`);
      }

      const to = chain.wallet(6).account.address;
      await transferNft(chain, 4, to, tokenId);
      await eventually('VM owner follows', async () => (await vm()).spec.ownerWallet === to, 60_000);
      if (backend.gecos) {
        await eventually(
          'guest GECOS follows',
          async () => (await backend.gecos!(await vm())) === `wallet=${to},nft=${tokenId}`,
          120_000,
        );
        await eventually('OwnerSynced', async () => (await ownerSynced())?.status === 'True');
        if (options.walletLogin) {
          // Access moved with the NFT: the old holder is refused, the new one gets a shell.
          expect(loginRefused(await loginWith(target, pasteSignature(buyerKey)))).toBe(true);
          expect((await loginWith(target, pasteSignature(anvilPrivateKey(6)))).stdout.trim()).toBe(
            target.user,
          );
        }
      } else {
        // No way into this backend's guest here: the controller says so and keeps retrying.
        await eventually('OwnerSynced pending', async () => (await ownerSynced())?.status === 'False');
      }
    }, 300_000);

    it('stops the VM at the on-chain expiry and keeps it; an extension resumes it', async () => {
      await advanceChainPast(Date.parse((await subscription()).spec.expiresAt), 5);
      await touch();
      await eventually('suspended', async () => (await subscription()).status?.phase === 'Suspended', 60_000);
      expect((await vm()).spec.runStrategy).toBe('Halted');
      await eventually(
        'backend VM stopped',
        async () => (await backend.power(await vm())) === 'stopped',
        120_000,
      );

      const before = Date.parse((await subscription()).spec.expiresAt);
      await extendSubscription({
        publicClient: chain.publicClient,
        walletClient: chain.wallet(5),
        subscriptions: chain.deployment.subscriptions,
        subscriptionId: id,
        days: 30n,
      });
      await chain.anvil.mine(1);
      // Active again (the confirmed chain already says it is paid) with the watcher's new expiry.
      await eventually(
        'resumed with the new expiry',
        async () => {
          const now = await subscription();
          return now.status?.phase === 'Active' && Date.parse(now.spec.expiresAt) > before;
        },
        60_000,
      );
      const extended = await subscription();
      const [, , onChainExpiry] = (await chain.publicClient.readContract({
        address: chain.deployment.subscriptions,
        abi: BlockhostSubscriptionsAbi,
        functionName: 'getSubscription',
        args: [id],
      } as never)) as [unknown, unknown, bigint];
      expect(Date.parse(extended.spec.expiresAt)).toBe(Number(onChainExpiry) * 1000);
      expect(Date.parse(extended.spec.expiresAt)).toBeGreaterThan(before);
      await eventually(
        'backend VM running again',
        async () => (await backend.power(await vm())) === 'running',
        backend.bootTimeoutMs,
      );
    }, 900_000);

    it('deletes the VM and the backend VM once the grace period is over', async () => {
      const machine = await vm();
      await advanceChainPast(Date.parse((await subscription()).spec.expiresAt), 8 * DAY_S);
      await touch();
      await eventually('expired', async () => (await subscription()).status?.phase === 'Expired', 60_000);
      await eventually('VM object gone', vmGone, 180_000);
      expect(await backend.power(machine)).toBe('absent');
      // The NFT stays with its holder: it is the customer's record, not the VM.
      expect(await nft<string>('ownerOf', [tokenId])).toBe(chain.wallet(6).account.address);
    }, 300_000);
  });
}
