import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { blockhostGecos, renderCloudInit } from './cloud-init.js';

const WALLET = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';

describe('cloud-init', () => {
  it('creates the login user with the wallet GECOS and a locked password', () => {
    const seed = renderCloudInit({
      login: { secretKey: 'ab'.repeat(32) },
      name: 'blockhost-007',
      username: 'admin',
      ownerWallet: WALLET,
      nftTokenId: '7',
    });
    expect(seed.userData.startsWith('#cloud-config\n')).toBe(true);
    const data = parse(seed.userData) as {
      users: Record<string, unknown>[];
      runcmd: string[][];
      write_files: { content: string }[];
    };
    expect(data.users[0]).toMatchObject({
      name: 'admin',
      gecos: `wallet=${WALLET},nft=7`,
      lock_passwd: true,
    });
    expect(data.runcmd).toContainEqual(['systemctl', 'enable', '--now', 'qemu-guest-agent']);
    expect(parse(seed.metaData)).toEqual({
      'instance-id': 'blockhost-007',
      'local-hostname': 'blockhost-007',
    });
    expect(seed.networkConfig).toBeUndefined();
  });

  it('allows only keyboard-interactive SSH for that user unless keys are given', () => {
    const plain = parse(
      renderCloudInit({
        login: { secretKey: 'ab'.repeat(32) },
        name: 'vm',
        username: 'admin',
        ownerWallet: WALLET,
      }).userData,
    ) as {
      write_files: { content: string }[];
    };
    const sshd = plain.write_files[0]!.content;
    expect(sshd).toContain('AuthenticationMethods keyboard-interactive\n');
    expect(sshd).toContain('AllowUsers admin\n');
    expect(sshd).toContain('PasswordAuthentication no\n');
    expect(sshd).toContain('PubkeyAuthentication no\n');
    const keyed = parse(
      renderCloudInit({
        login: { secretKey: 'ab'.repeat(32) },
        name: 'vm',
        username: 'admin',
        ownerWallet: WALLET,
        sshKeys: ['ssh-ed25519 AAAA test'],
      }).userData,
    ) as {
      users: { ssh_authorized_keys?: string[] }[];
      write_files: { content: string }[];
    };
    expect(keyed.users[0]?.ssh_authorized_keys).toEqual(['ssh-ed25519 AAAA test']);
    expect(keyed.write_files[0]!.content).toContain('AuthenticationMethods publickey keyboard-interactive\n');
  });

  it('writes static IPv4 and a single IPv6 /128 with an on-link gateway', () => {
    const seed = renderCloudInit({
      login: { secretKey: 'ab'.repeat(32) },
      name: 'vm',
      username: 'admin',
      ownerWallet: WALLET,
      network: {
        macAddress: '52:54:00:12:34:56',
        ipv4: { address: '192.168.122.200', prefixLength: 24, gateway: '192.168.122.1' },
        ipv6: { address: '2001:db8:42::200', gateway: '2001:db8:42::1' },
        dns: ['1.1.1.1'],
      },
    });
    expect(parse(seed.networkConfig!)).toEqual({
      version: 2,
      ethernets: {
        primary: {
          match: { macaddress: '52:54:00:12:34:56' },
          'set-name': 'eth0',
          dhcp4: false,
          dhcp6: false,
          addresses: ['192.168.122.200/24', '2001:db8:42::200/128'],
          gateway4: '192.168.122.1',
          routes: [{ to: '::/0', via: '2001:db8:42::1', 'on-link': true }],
          nameservers: { addresses: ['1.1.1.1'] },
        },
      },
    });
  });

  it('formats the GECOS without an NFT before one is minted', () => {
    expect(blockhostGecos(WALLET)).toBe(`wallet=${WALLET}`);
    expect(blockhostGecos(WALLET, '0')).toBe(`wallet=${WALLET},nft=0`);
  });
});

describe('cloud-init wallet login', () => {
  const seed = renderCloudInit({
    name: 'blockhost-009',
    username: 'alice',
    ownerWallet: WALLET,
    login: { secretKey: 'cd'.repeat(32), signingUrl: 'https://shop.example/sign' },
  });
  const data = parse(seed.userData) as {
    bootcmd: string[][];
    write_files: { path: string; permissions: string; content: string }[];
  };
  const file = (path: string) => data.write_files.find((f) => f.path === path);

  it('configures pam_web3 with the machine id, the per-VM secret and the signing page (0640)', () => {
    expect(file('/etc/pam_web3/config.toml')).toEqual({
      path: '/etc/pam_web3/config.toml',
      permissions: '0640',
      content: expect.stringContaining(
        [
          '[machine]',
          'id = "blockhost-009"',
          `secret_key = "${'cd'.repeat(32)}"`,
          '',
          '[auth]',
          'otp_length = 6',
          'otp_ttl_seconds = 300',
          'use_tls = true',
          'signing_url = "https://shop.example/sign"',
        ].join('\n'),
      ),
    });
  });

  it("puts only the VM's user through pam_web3 and nothing after it", () => {
    const auth = file('/etc/pam.d/sshd')!
      .content.split('\n')
      .filter((line) => line.startsWith('auth'));
    expect(auth).toEqual([
      'auth [success=ok default=ignore] pam_succeed_if.so user = alice',
      'auth [success=done default=die] pam_web3.so',
      'auth required pam_deny.so',
    ]);
    expect(file('/etc/pam.d/sshd')!.content).toContain('@include common-account\n');
  });

  it('creates the callback directory on every boot, before sshd', () => {
    expect(data.bootcmd).toEqual([
      ['install', '-d', '-m', '0700', '/run/libpam-web3', '/run/libpam-web3/pending'],
    ]);
  });

  it('leaves signing_url out until the signup URL is known', () => {
    const without = renderCloudInit({
      name: 'vm',
      username: 'alice',
      ownerWallet: WALLET,
      login: { secretKey: 'cd'.repeat(32) },
    });
    expect(without.userData).not.toContain('signing_url');
  });
});
