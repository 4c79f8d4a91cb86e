import { stringify } from 'yaml';

/**
 * What every backend puts on a guest's NoCloud seed; the same for KubeVirt, libvirt and Proxmox.
 * Base images must already contain cloud-init, qemu-guest-agent, openssh-server and the libpam-web3
 * package (the product's guest image, images/guest/): hosts may have no package mirror, so nothing
 * is installed at first boot.
 */
export interface CloudInitInput {
  /** VM name; also the hostname and the instance id (a new id would re-run cloud-init). */
  name: string;
  username: string;
  ownerWallet: string;
  nftTokenId?: string;
  /** Overrides the default `wallet=<addr>,nft=<id>` GECOS. */
  gecos?: string;
  sshKeys?: string[];
  /** The wallet login (INTEROP §4): what the guest's pam_web3 module is configured with. */
  login: WalletLogin;
  network?: {
    /** MAC of the VM's NIC; every backend sets it, so the config finds the NIC whatever its name. */
    macAddress: string;
    ipv4?: { address: string; prefixLength: number; gateway: string };
    ipv6?: { address: string; gateway: string };
    dns?: string[];
  };
}

export interface WalletLogin {
  /** 64 hex digits, random per VM, kept in the VM's login Secret (login-secret.ts). */
  secretKey: string;
  /** The host's signing page (`<signup URL>/sign`); absent until setup has published the signup URL. */
  signingUrl?: string;
}

export interface NoCloudSeed {
  metaData: string;
  userData: string;
  /** Absent: DHCP on the first interface (cloud-init's fallback). */
  networkConfig?: string;
}

/** GECOS the web3 PAM module reads: the login wallet and the NFT that grants it (INTEROP §4). */
export function blockhostGecos(ownerWallet: string, nftTokenId?: string): string {
  return nftTokenId === undefined ? `wallet=${ownerWallet}` : `wallet=${ownerWallet},nft=${nftTokenId}`;
}

/**
 * sshd: only keyboard-interactive through PAM (the wallet-signature flow), only for the BlockHost
 * user; plus public keys when the VM spec lists some.
 */
function sshdConfig(username: string, withKeys: boolean): string {
  return [
    '# Written by BlockHost cloud-init: wallet-signature logins through PAM only.',
    'UsePAM yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication yes',
    `PubkeyAuthentication ${withKeys ? 'yes' : 'no'}`,
    `AuthenticationMethods ${withKeys ? 'publickey keyboard-interactive' : 'keyboard-interactive'}`,
    `AllowUsers ${username}`,
    'PermitRootLogin no',
    '',
  ].join('\n');
}

/** The module's config (INTEROP §4); TOML strings are JSON-compatible, so JSON.stringify quotes them. */
function pamWeb3Config(machineId: string, login: WalletLogin): string {
  return [
    '# Written by BlockHost cloud-init: the wallet login of this VM.',
    '[machine]',
    `id = ${JSON.stringify(machineId)}`,
    `secret_key = ${JSON.stringify(login.secretKey)}`,
    '',
    '[auth]',
    'otp_length = 6',
    'otp_ttl_seconds = 300',
    'use_tls = true',
    ...(login.signingUrl ? [`signing_url = ${JSON.stringify(login.signingUrl)}`] : []),
    '',
  ].join('\n');
}

/**
 * The original's sshd auth stack: only `username` reaches pam_web3, which decides; nothing after
 * it runs. Account and session stay Debian's.
 */
function pamSshd(username: string): string {
  return [
    '# Written by BlockHost cloud-init: wallet-signature logins (pam_web3) for one user only.',
    `auth [success=ok default=ignore] pam_succeed_if.so user = ${username}`,
    'auth [success=done default=die] pam_web3.so',
    'auth required pam_deny.so',
    '@include common-account',
    'session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so close',
    'session required pam_loginuid.so',
    'session optional pam_keyinit.so force revoke',
    '@include common-session',
    'session optional pam_motd.so motd=/run/motd.dynamic',
    'session optional pam_motd.so noupdate',
    'session optional pam_mail.so standard noenv',
    'session required pam_limits.so',
    'session required pam_env.so',
    'session required pam_env.so envfile=/etc/default/locale',
    'session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so open',
    '@include common-password',
    '',
  ].join('\n');
}

/**
 * Callback sessions exist only while this directory does. bootcmd runs on every boot, before
 * sshd starts (/run is a tmpfs); runcmd would come too late: at first boot the first login can
 * arrive before cloud-init's final stage.
 */
const PENDING_DIRECTORY = ['install', '-d', '-m', '0700', '/run/libpam-web3', '/run/libpam-web3/pending'];

export function renderCloudInit(input: CloudInitInput): NoCloudSeed {
  const gecos = input.gecos ?? blockhostGecos(input.ownerWallet, input.nftTokenId);
  const withKeys = (input.sshKeys?.length ?? 0) > 0;
  const userData = {
    hostname: input.name,
    users: [
      {
        name: input.username,
        gecos,
        shell: '/bin/bash',
        lock_passwd: true,
        sudo: 'ALL=(ALL) NOPASSWD:ALL',
        ...(withKeys && { ssh_authorized_keys: input.sshKeys }),
      },
    ],
    bootcmd: [PENDING_DIRECTORY],
    // No ssh_pwauth: cloud-init's set-passwords module restarts sshd when it edits sshd_config, in
    // the config stage, while logins may already be under way. The drop-in below says the same.
    disable_root: true,
    // Ed25519 and ECDSA host keys only: every supported OpenSSH client takes them, and skipping
    // RSA-3072 and DSA generation takes seconds off the first boot (most of it under emulation).
    ssh_genkeytypes: ['ed25519', 'ecdsa'],
    write_files: [
      {
        path: '/etc/ssh/sshd_config.d/50-blockhost.conf',
        permissions: '0644',
        content: sshdConfig(input.username, withKeys),
      },
      {
        path: '/etc/pam_web3/config.toml',
        permissions: '0640',
        content: pamWeb3Config(input.name, input.login),
      },
      { path: '/etc/pam.d/sshd', permissions: '0644', content: pamSshd(input.username) },
    ],
    // No sshd restart: cloud-init's network stage (write_files included) runs before sysinit.target,
    // so sshd starts with these files; a restart from the final stage would refuse connections
    // while customers may already be logging in.
    runcmd: [['systemctl', 'enable', '--now', 'qemu-guest-agent']],
  };
  return {
    metaData: stringify({ 'instance-id': input.name, 'local-hostname': input.name }),
    userData: `#cloud-config\n${stringify(userData)}`,
    networkConfig: input.network ? renderNetworkConfig(input.network) : undefined,
  };
}

/** Netplan-style v2 config: static addresses on the VM's NIC, default routes via the gateways. */
function renderNetworkConfig(network: NonNullable<CloudInitInput['network']>): string {
  const addresses: string[] = [];
  const routes: { to: string; via: string; 'on-link': boolean }[] = [];
  if (network.ipv4) addresses.push(`${network.ipv4.address}/${network.ipv4.prefixLength}`);
  if (network.ipv6) {
    // One /128 per VM: the gateway is not on that "subnet", so the route is on-link.
    addresses.push(`${network.ipv6.address}/128`);
    routes.push({ to: '::/0', via: network.ipv6.gateway, 'on-link': true });
  }
  const ethernet = {
    // By MAC, not by name: names differ per machine type, and the ifupdown renderer of Debian
    // guests cannot match a name pattern.
    match: { macaddress: network.macAddress },
    'set-name': 'eth0',
    dhcp4: !network.ipv4,
    dhcp6: false,
    addresses,
    // gateway4 rather than a route: cloud-init's ifupdown renderer (Debian 12 guests) writes routes
    // as `route add` lines, which need net-tools, but gateway4 as ifupdown's own `gateway`.
    ...(network.ipv4 && { gateway4: network.ipv4.gateway }),
    ...(routes.length > 0 && { routes }),
    ...(network.dns?.length && { nameservers: { addresses: network.dns } }),
  };
  return stringify({ version: 2, ethernets: { primary: ethernet } });
}
