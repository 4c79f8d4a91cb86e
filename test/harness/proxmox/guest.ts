// The guest OS inside a fake VM, as far as BlockHost can see it through the QEMU guest agent: a tiny
// passwd and a small filesystem that cloud-init fills from the NoCloud seed at first boot, a few
// programs to run, and the network addresses the seed's network-config sets.
import { parse } from 'yaml';
import { GuestFilesystem } from './guest-fs.js';
import type { NoCloudFiles } from './seed-reader.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

export interface ExecOutcome {
  exitcode: number;
  stdout: string;
  stderr: string;
}

/** The answer of guest-network-get-interfaces for one NIC. */
export interface GuestInterface {
  name: string;
  'hardware-address': string;
  'ip-addresses': { 'ip-address': string; 'ip-address-type': 'ipv4' | 'ipv6'; prefix: number }[];
}

const ROOT: PasswdEntry = { name: 'root', uid: 0, gid: 0, gecos: 'root', home: '/root', shell: '/bin/bash' };

/** Where the programs live; bare names are looked up on PATH like QGA's g_spawn does. */
const PROGRAMS: Record<string, string> = {
  '/usr/sbin/usermod': 'usermod',
  '/sbin/usermod': 'usermod',
  '/usr/bin/getent': 'getent',
  '/bin/getent': 'getent',
  '/usr/bin/cat': 'cat',
  '/bin/cat': 'cat',
};

interface WriteFile {
  path?: string;
  content?: string;
  permissions?: string;
  encoding?: string;
  append?: boolean;
  defer?: boolean;
}

interface CloudConfig {
  hostname?: string;
  users?: (string | { name?: string; gecos?: string; shell?: string })[];
  bootcmd?: (string | string[])[];
  write_files?: WriteFile[];
  runcmd?: (string | string[])[];
}

interface Ethernet {
  match?: { macaddress?: string; name?: string };
  'set-name'?: string;
  addresses?: string[];
}

interface NetworkConfig {
  ethernets?: Record<string, Ethernet>;
}

/** The name the kernel gives the first virtio NIC of a PVE VM. */
const KERNEL_NIC_NAME = 'ens18';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const glob = (pattern: string) => new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);

/** Whether a netplan-style `match` selects the NIC with `mac` (and the kernel's name). */
function selects(match: Ethernet['match'], mac: string): boolean {
  if (match?.macaddress !== undefined && match.macaddress.toLowerCase() !== mac.toLowerCase()) return false;
  return match?.name === undefined || glob(match.name).test(KERNEL_NIC_NAME);
}

/** fe80:: address of a MAC (modified EUI-64), as the guest kernel assigns it. */
function linkLocal(mac: string): string {
  const bytes = mac.split(':').map((part) => parseInt(part, 16));
  bytes[0] = bytes[0]! ^ 0x02;
  const eui = [...bytes.slice(0, 3), 0xff, 0xfe, ...bytes.slice(3)];
  const groups = [0, 2, 4, 6].map((i) => ((eui[i]! << 8) | eui[i + 1]!).toString(16));
  return `fe80::${groups.join(':')}`;
}

/** write_files as cloud-init applies it (parents created); options BlockHost does not use are refused. */
function writeFiles(fs: GuestFilesystem, files: WriteFile[]): void {
  for (const file of files) {
    if (!file.path || (file.encoding ?? 'text') !== 'text' || file.append || file.defer)
      throw new Error(`write_files entry ${JSON.stringify(file.path)} uses options the fake guest lacks`);
    fs.mkdirp(file.path.slice(0, file.path.lastIndexOf('/')) || '/');
    fs.write(file.path, Buffer.from(file.content ?? ''));
  }
}

/**
 * bootcmd and runcmd lines: only the directory-making ones have an effect here (`install -d [-m
 * MODE] DIR...`, `systemd-tmpfiles --create FILE`); other commands are ignored.
 */
function runCommands(fs: GuestFilesystem, commands: (string | string[])[]): void {
  for (const command of commands) {
    const argv = typeof command === 'string' ? command.trim().split(/\s+/) : command;
    try {
      if (argv[0] === 'install' && argv[1] === '-d') {
        const dirs = argv[2] === '-m' ? argv.slice(4) : argv.slice(2);
        for (const dir of dirs) fs.mkdirp(dir);
      } else if (argv.length === 3 && argv[0] === 'systemd-tmpfiles' && argv[1] === '--create') {
        fs.tmpfilesCreate(argv[2]!);
      }
    } catch {
      // A failing line is logged and the next one runs, as in cloud-init's scripts.
    }
  }
}

export class SimulatedGuest {
  private instanceId?: string;
  private ethernets: Ethernet[] = [];
  private fs = new GuestFilesystem();

  constructor(private passwd: PasswdEntry[] = [{ ...ROOT }]) {}

  /** The same disk content, for a full clone. */
  copy(): SimulatedGuest {
    const copy = new SimulatedGuest(this.passwd.map((entry) => ({ ...entry })));
    copy.instanceId = this.instanceId;
    copy.ethernets = structuredClone(this.ethernets);
    copy.fs = this.fs.copy();
    return copy;
  }

  /** The guest's files, for the agent's file-read/file-write and for tests acting inside the guest. */
  get files(): GuestFilesystem {
    return this.fs;
  }

  users(): PasswdEntry[] {
    return this.passwd.map((entry) => ({ ...entry }));
  }

  /**
   * A boot: /run starts empty and systemd-tmpfiles re-creates its directories; cloud-init runs
   * bootcmd (every boot), then for a new instance id creates the seed's users that do not exist yet
   * (existing users are left alone, as cloud-init does), writes write_files and runs runcmd; the
   * network config applies every boot, to the NIC its `match` selects (by MAC: a NIC with another
   * MAC gets no address).
   */
  boot(seed: NoCloudFiles | undefined): void {
    this.fs.boot();
    if (!seed) return;
    const meta = (parse(seed.metaData ?? '') ?? {}) as { 'instance-id'?: string };
    const config = (parse(seed.userData ?? '') ?? {}) as CloudConfig;
    runCommands(this.fs, config.bootcmd ?? []);
    if (meta['instance-id'] !== this.instanceId) {
      this.instanceId = meta['instance-id'];
      this.createUsers(config);
      writeFiles(this.fs, config.write_files ?? []);
      runCommands(this.fs, config.runcmd ?? []);
    }
    const network = (parse(seed.networkConfig ?? '') ?? {}) as NetworkConfig;
    this.ethernets = Object.values(network.ethernets ?? {});
  }

  private createUsers(config: CloudConfig): void {
    for (const user of config.users ?? []) {
      if (typeof user === 'string' || !user.name || this.find(user.name)) continue;
      const uid = 1000 + this.passwd.filter((entry) => entry.uid >= 1000).length;
      this.passwd.push({
        name: user.name,
        uid,
        gid: uid,
        gecos: user.gecos ?? '',
        home: `/home/${user.name}`,
        shell: user.shell ?? '/bin/sh',
      });
    }
  }

  interfaces(mac: string): GuestInterface[] {
    const nic = this.ethernets.find((ethernet) => selects(ethernet.match, mac));
    const configured = (nic?.addresses ?? []).map((cidr) => {
      const [address, prefix] = cidr.split('/');
      const family = address!.includes(':') ? ('ipv6' as const) : ('ipv4' as const);
      return { 'ip-address': address!, 'ip-address-type': family, prefix: Number(prefix) };
    });
    return [
      {
        name: 'lo',
        'hardware-address': '00:00:00:00:00:00',
        'ip-addresses': [
          { 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8 },
          { 'ip-address': '::1', 'ip-address-type': 'ipv6', prefix: 128 },
        ],
      },
      {
        name: nic?.['set-name'] ?? KERNEL_NIC_NAME,
        'hardware-address': mac.toLowerCase(),
        'ip-addresses': [
          ...configured,
          { 'ip-address': linkLocal(mac), 'ip-address-type': 'ipv6', prefix: 64 },
        ],
      },
    ];
  }

  /** Runs a program; throws with QGA's text when there is no such program. */
  exec(path: string, args: string[], input: string | undefined): ExecOutcome {
    const program = path.includes('/')
      ? PROGRAMS[path]
      : Object.values(PROGRAMS).find((name) => name === path);
    switch (program) {
      case 'usermod':
        return this.usermod(args);
      case 'getent':
        return this.getent(args);
      case 'cat':
        return { exitcode: 0, stdout: input ?? '', stderr: '' };
      default:
        throw new Error(`Failed to execute child process “${path}” (No such file or directory)`);
    }
  }

  private find(name: string): PasswdEntry | undefined {
    return this.passwd.find((entry) => entry.name === name);
  }

  /** usermod -c <gecos> <user>: the one option BlockHost uses. */
  private usermod(args: string[]): ExecOutcome {
    const at = args.indexOf('-c');
    const name = args[args.length - 1];
    if (at < 0 || at + 1 >= args.length - 1 || !name) {
      return { exitcode: 2, stdout: '', stderr: 'Usage: usermod [options] LOGIN\n' };
    }
    const entry = this.find(name);
    if (!entry) return { exitcode: 6, stdout: '', stderr: `usermod: user '${name}' does not exist\n` };
    entry.gecos = args[at + 1]!;
    return { exitcode: 0, stdout: '', stderr: '' };
  }

  /** getent passwd [user]: exit 2 when the user is unknown. */
  private getent(args: string[]): ExecOutcome {
    if (args[0] !== 'passwd')
      return { exitcode: 1, stdout: '', stderr: `Unknown database: ${args[0] ?? ''}\n` };
    const line = (e: PasswdEntry) => `${e.name}:x:${e.uid}:${e.gid}:${e.gecos}:${e.home}:${e.shell}\n`;
    const keys = args.slice(1);
    if (keys.length === 0) return { exitcode: 0, stdout: this.passwd.map(line).join(''), stderr: '' };
    const found = keys.map((key) => this.find(key)).filter((e): e is PasswdEntry => e !== undefined);
    return { exitcode: found.length === keys.length ? 0 : 2, stdout: found.map(line).join(''), stderr: '' };
  }
}
