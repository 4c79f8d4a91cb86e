// blockhost-setup-code against the harness's real API server (with the real kubectl), writing the
// console message below a temporary root.
import { networkInterfaces } from 'node:os';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { CODE_ALPHABET, generateCode } from '../../../lib/crypto/auth-code.js';
import type { KubeClient } from '../../../lib/kube/client.js';
import type { KubeObject } from '../../../lib/kube/object.js';
import { coreTypes } from '../../../lib/kube/resource-types.js';
import { ensureControlPlaneBinaries } from '../../harness/control-plane/binaries.js';
import { installScripts, run } from '../../harness/install/scripts.js';
import { deleteNamespace, testClient } from '../../harness/kube.js';

type Secret = KubeObject & { data?: Record<string, string> };
const ORIGINAL_ISSUE = 'Debian GNU/Linux 12 \\n \\l\n\n';
const CODE_PATTERN = new RegExp(`^[${CODE_ALPHABET}]{6}$`);

/** The host's IPv4 addresses: those blockhost-setup-code lists, and pod/loopback plumbing it skips. */
function hostIpv4(): { listed: string[]; plumbing: string[] } {
  const listed: string[] = [];
  const plumbing: string[] = [];
  for (const [name, addresses] of Object.entries(networkInterfaces()))
    for (const a of addresses ?? []) {
      if (a.family !== 'IPv4') continue;
      if (a.internal || /^(lo|cni|flannel|veth|docker|kube)/.test(name)) plumbing.push(a.address);
      else listed.push(a.address);
    }
  return { listed, plumbing };
}

describe('blockhost-setup-code', () => {
  let kube: KubeClient;
  let kubectl: string;
  let namespace: string;
  let root: string;
  let env: Record<string, string>;

  const issue = () => readFile(join(root, 'etc/issue'), 'utf8');
  const secret = async () => {
    const s = await kube.get<Secret>(coreTypes.secret, 'blockhost-setup-code', namespace);
    const decode = (key: string) => Buffer.from(s.data?.[key] ?? '', 'base64').toString();
    return { object: s, code: decode('code'), issuedAt: decode('issuedAt') };
  };

  beforeAll(async () => {
    kube = testClient();
    kubectl = (await ensureControlPlaneBinaries()).kubectl;
    // Not created here: the command must create the namespace itself.
    namespace = `setup-code-${randomBytes(3).toString('hex')}`;
    root = await mkdtemp(join(tmpdir(), 'bh-setup-code-'));
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'etc/issue'), ORIGINAL_ISSUE);
    env = { BLOCKHOST_ROOT: root, BLOCKHOST_KUBECTL: kubectl, BLOCKHOST_NAMESPACE: namespace };
  });

  afterAll(async () => {
    await deleteNamespace(kube, namespace);
    await rm(root, { recursive: true, force: true });
  });

  it('writes the Secret (creating the namespace) and shows the wizard URLs and the code on the console', async () => {
    const started = Date.now();
    const before = hostIpv4();
    const result = await run(installScripts.setupCode, [], { env });
    expect(result.stderr).toContain('new setup code issued');
    expect(result.code).toBe(0);

    const { object, code, issuedAt } = await secret();
    expect(code).toMatch(CODE_PATTERN);
    expect(issuedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(issuedAt)).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000);
    expect(Date.parse(issuedAt)).toBeLessThanOrEqual(Date.now());
    // Server-side apply: no last-applied annotation that would carry the code in clear text.
    expect(object.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toBeUndefined();
    expect(result.stderr).not.toContain(code);

    const text = await issue();
    expect(text.startsWith(ORIGINAL_ISSUE)).toBe(true);
    const validUntil = new Date(Date.parse(issuedAt) + 4 * 3600_000).toISOString().replace('.000Z', 'Z');
    expect(text).toContain(`One-time code: ${code}   (valid until ${validUntil})`);
    // Other test files add and remove bridges meanwhile, so only what held both before and after
    // the run is certain: those addresses are shown, and no pod or loopback plumbing is.
    const after = hostIpv4();
    const shown = [...text.matchAll(/^ {2}http:\/\/([0-9.]+)\/setup$/gm)].map((m) => m[1]);
    for (const address of before.listed.filter((a) => after.listed.includes(a)))
      expect(shown).toContain(address);
    for (const address of [...before.plumbing, ...after.plumbing]) expect(shown).not.toContain(address);
    if (before.listed.length === 0 && after.listed.length === 0)
      expect(text).toContain('http://<this server address>/setup');
    expect(await readFile(join(root, 'etc/issue.blockhost-orig'), 'utf8')).toBe(ORIGINAL_ISSUE);
  });

  it('replaces the code and the console block when run again, keeping the original text once', async () => {
    const first = await secret();
    expect((await run(installScripts.setupCode, [], { env })).code).toBe(0);
    const second = await secret();
    expect(second.code).toMatch(CODE_PATTERN);
    expect(second.code).not.toBe(first.code);
    const text = await issue();
    expect(text.split('=== BlockHost ===')).toHaveLength(2);
    expect(text.split('Debian GNU/Linux 12')).toHaveLength(2);
    expect(text).toContain(second.code);
    expect(text).not.toContain(first.code);
  });

  it('--no-console writes only the Secret', async () => {
    const before = await issue();
    const old = await secret();
    expect((await run(installScripts.setupCode, ['--no-console'], { env })).code).toBe(0);
    expect((await secret()).code).not.toBe(old.code);
    expect(await issue()).toBe(before);
  });

  it('samples without bias: rejected bytes are skipped exactly as lib/crypto/auth-code.ts does', async () => {
    // 255 and 248 lie above the largest multiple of 31; 247 % 31 = 30, 62 % 31 = 0.
    const bytes = Uint8Array.from([255, 248, 0, 30, 31, 247, 62, 1, 100, 250, 200, 7]);
    const source = join(root, 'random');
    await writeFile(source, bytes);
    const result = await run(installScripts.setupCode, ['--generate'], {
      env: { ...env, BLOCKHOST_RANDOM_SOURCE: source },
    });
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe('A9A9AB');
    expect(result.stdout.trim()).toBe(generateCode(6, (n) => bytes.slice(0, n)));
  });

  it('fails clearly and changes nothing on bad input or when the API cannot be reached', async () => {
    const before = await issue();
    const old = await secret();

    const badNamespace = await run(installScripts.setupCode, [], {
      env: { ...env, BLOCKHOST_NAMESPACE: 'Bad_Name' },
    });
    expect(badNamespace.code).not.toBe(0);
    expect(badNamespace.stderr).toContain("BLOCKHOST_NAMESPACE 'Bad_Name' is not a valid namespace name");

    const noApi = await run(installScripts.setupCode, [], { env: { ...env, BLOCKHOST_KUBECTL: 'false' } });
    expect(noApi.code).not.toBe(0);
    expect(noApi.stderr).toContain(`could not write Secret ${namespace}/blockhost-setup-code`);

    const source = join(root, 'all-rejected');
    await writeFile(source, Uint8Array.from([250, 251, 252, 253]));
    const noRandom = await run(installScripts.setupCode, [], {
      env: { ...env, BLOCKHOST_RANDOM_SOURCE: source },
    });
    expect(noRandom.code).not.toBe(0);
    expect(noRandom.stderr).toContain('gives no usable random bytes');

    const unknown = await run(installScripts.setupCode, ['--bogus'], { env });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('unknown argument: --bogus');

    expect(await issue()).toBe(before);
    expect((await secret()).code).toBe(old.code);
    expect(existsSync(join(root, 'etc/issue.tmp'))).toBe(false);
  });
});
