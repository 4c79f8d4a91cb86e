// blockhost-bridge for real, inside throw-away network namespaces: a "host" whose NIC is joined by
// a veth pair to a "gw" namespace holding the default gateway. The machine's own network is never
// touched.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { NetnsPair } from '../../harness/install/netns.js';
import { installScripts, run } from '../../harness/install/scripts.js';
import { waitFor } from '../../harness/processes.js';

const { nic, gatewayIp } = NetnsPair;
const DHCP_INTERFACES = `source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback

# The primary network interface
allow-hotplug ${nic}
iface ${nic} inet dhcp
`;

describe('blockhost-bridge in network namespaces', () => {
  let pair: NetnsPair;
  let root: string;

  const bridge = (...args: string[]) =>
    run('ip', ['netns', 'exec', pair.host, installScripts.bridge, '--ping-count', '2', ...args], {
      env: { BLOCKHOST_ROOT: root },
    });
  const pingFromHost = () =>
    run('ip', ['netns', 'exec', pair.host, 'ping', '-n', '-c', '1', '-W', '1', gatewayIp]).then(
      (r) => r.code === 0,
    );
  // The host sees the lost carrier a moment later; the "before" state must include it.
  const gatewayDown = async () => {
    await pair.inGw('ip', 'link', 'set', 'gw0', 'down');
    await waitFor(
      'the host to see the link down',
      async () => (await pair.inHost('ip', '-4', 'route', 'show', 'default')).stdout.includes('linkdown'),
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  };
  const persisted = () => readFile(join(root, 'etc/network/interfaces.d/blockhost-bridge'), 'utf8');

  beforeEach(async () => {
    pair = await NetnsPair.create();
    root = await mkdtemp(join(tmpdir(), 'bh-bridge-'));
    await mkdir(join(root, 'etc/network'), { recursive: true });
    await writeFile(join(root, 'etc/network/interfaces'), DHCP_INTERFACES);
  });

  afterEach(async () => {
    await pair.delete();
    await rm(root, { recursive: true, force: true });
  });

  it('moves the address and default route to br0, persists it, and a second run changes nothing', async () => {
    const mac = (await pair.inHost('cat', `/sys/class/net/${nic}/address`)).stdout.trim();
    const result = await bridge();
    expect(result.stderr).toContain(`gateway ${gatewayIp} answers through br0`);
    expect(result.code).toBe(0);

    const brAddresses = (await pair.inHost('ip', '-4', '-o', 'addr', 'show', 'dev', 'br0')).stdout;
    expect(brAddresses).toContain(NetnsPair.hostCidr);
    expect((await pair.inHost('ip', '-4', '-o', 'addr', 'show', 'dev', nic)).stdout).toBe('');
    expect((await pair.inHost('ip', '-4', 'route', 'show', 'default')).stdout).toMatch(
      new RegExp(`^default via ${gatewayIp} dev br0`),
    );
    expect((await pair.inHost('ip', '-o', 'link', 'show', 'master', 'br0')).stdout).toContain(nic);
    expect((await pair.inHost('cat', '/sys/class/net/br0/address')).stdout.trim()).toBe(mac);
    expect(await pingFromHost()).toBe(true);

    const interfaces = await readFile(join(root, 'etc/network/interfaces'), 'utf8');
    expect(interfaces).toContain(`# blockhost-bridge: allow-hotplug ${nic}`);
    expect(interfaces).toContain(`# blockhost-bridge: iface ${nic} inet dhcp`);
    expect(interfaces).toContain('iface lo inet loopback\n');
    expect(await readFile(join(root, 'etc/network/interfaces.blockhost-orig'), 'utf8')).toBe(DHCP_INTERFACES);
    const stanza = await persisted();
    expect(stanza).toContain(`iface ${nic} inet manual`);
    expect(stanza).toContain('auto br0\niface br0 inet dhcp\n');
    expect(stanza).toContain(`bridge_ports ${nic}`);
    expect(stanza).toContain(`bridge_hw ${mac}`);
    expect(stanza).toContain('bridge_fd 0');
    expect(existsSync(join(root, 'var/lib/blockhost/bridge.pending'))).toBe(false);

    const before = await pair.hostState();
    const second = await bridge();
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('nothing to change');
    expect(await pair.hostState()).toBe(before);
    expect(await readFile(join(root, 'etc/network/interfaces'), 'utf8')).toBe(interfaces);
    expect(await persisted()).toBe(stanza);
  });

  it('carries a static configuration over to the bridge', async () => {
    await writeFile(
      join(root, 'etc/network/interfaces'),
      `auto lo\niface lo inet loopback\n\nauto ${nic}\niface ${nic} inet static\n\taddress ${NetnsPair.hostCidr}\n\tgateway ${gatewayIp}\n\tdns-nameservers 9.9.9.9\n`,
    );
    expect((await bridge()).code).toBe(0);
    const stanza = await persisted();
    expect(stanza).toContain('iface br0 inet static\n');
    expect(stanza).toContain(`    address ${NetnsPair.hostCidr}\n`);
    expect(stanza).toContain(`    gateway ${gatewayIp}\n`);
    expect(stanza).toContain('    dns-nameservers 9.9.9.9\n');
    // The old stanza is kept, commented out; sourcing interfaces.d was added because it was missing.
    const interfaces = await readFile(join(root, 'etc/network/interfaces'), 'utf8');
    expect(interfaces).toContain(`# blockhost-bridge: \taddress ${NetnsPair.hostCidr}`);
    expect(interfaces).toContain('source /etc/network/interfaces.d/*');
  });

  it('rolls back to the exact previous state when the gateway stops answering through the bridge', async () => {
    await gatewayDown();
    const before = await pair.hostState();
    const result = await bridge('--skip-preflight');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      `gateway ${gatewayIp} did not answer through br0; restored the addresses and routes on ${nic}`,
    );
    expect(await pair.hostState()).toBe(before);
    expect((await run('ip', ['netns', 'exec', pair.host, 'ip', 'link', 'show', 'br0'])).code).not.toBe(0);
    expect(existsSync(join(root, 'etc/network/interfaces.d/blockhost-bridge'))).toBe(false);
    expect(await readFile(join(root, 'etc/network/interfaces'), 'utf8')).toBe(DHCP_INTERFACES);
    expect(existsSync(join(root, 'var/lib/blockhost/bridge.pending'))).toBe(false);

    // The restored NIC works again once the gateway is back.
    await pair.inGw('ip', 'link', 'set', 'gw0', 'up');
    await waitFor('the gateway answers the restored NIC', pingFromHost, { timeoutMs: 10_000 });
  });

  it('changes nothing when the gateway does not answer even before the change', async () => {
    await gatewayDown();
    const before = await pair.hostState();
    const result = await bridge();
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('even before the change');
    expect(result.stderr).toContain('nothing changed');
    expect(await pair.hostState()).toBe(before);
  });

  it('accepts a gateway that ignores ping but answers ARP', async () => {
    await pair.inGw('sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_all=1');
    expect(await pingFromHost()).toBe(false);
    const result = await bridge();
    expect(result.stderr).toContain('answers through br0');
    expect(result.code).toBe(0);
  });

  it('restores the saved state first when an earlier run was killed half-way', async () => {
    await gatewayDown();
    const before = await pair.hostState();
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        pair.host,
        installScripts.bridge,
        '--skip-preflight',
        '--ping-count',
        '3',
        '--ping-timeout',
        '5',
      ],
      { env: { ...process.env, BLOCKHOST_ROOT: root }, stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // Killed while it waits for the gateway: the address is on br0 and not yet verified.
    await waitFor(
      'the address on br0',
      async () =>
        (
          await run('ip', ['netns', 'exec', pair.host, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'br0'])
        ).stdout.includes('10.77.0.2'),
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    child.kill('SIGKILL');
    await exited;
    expect(existsSync(join(root, 'var/lib/blockhost/bridge.pending'))).toBe(true);
    expect(await pair.hostState()).not.toBe(before);

    await pair.inGw('ip', 'link', 'set', 'gw0', 'up');
    const result = await bridge();
    expect(result.stderr).toContain('an earlier run was interrupted');
    expect(result.code).toBe(0);
    expect((await pair.inHost('ip', '-4', '-o', 'addr', 'show', 'dev', 'br0')).stdout).toContain(
      NetnsPair.hostCidr,
    );
    expect(await pingFromHost()).toBe(true);
    expect(existsSync(join(root, 'var/lib/blockhost/bridge.pending'))).toBe(false);
  });

  it('refuses bad options and a missing default route without changing anything', async () => {
    const badName = await bridge('--bridge', 'name-that-is-far-too-long');
    expect(badName.code).not.toBe(0);
    expect(badName.stderr).toContain('invalid bridge name');

    await pair.inHost('ip', 'route', 'del', 'default');
    const before = await pair.hostState();
    const noRoute = await bridge();
    expect(noRoute.code).not.toBe(0);
    expect(noRoute.stderr).toContain('no IPv4 default route');
    expect(await pair.hostState()).toBe(before);
  });
});
