// Fixture outputs of `lsblk --json --bytes --tree -o PATH,SIZE,MODEL,TYPE,MOUNTPOINTS`,
// `ip -j address show` and `ip -j route show default` for blockhost-host-facts, shaped like
// util-linux 2.38 and iproute2 6.1 (Debian 12) print them, served by fake-host-tools.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { installScripts } from './scripts.js';

/** The installed system: LVM on sda (/, swap, /boot), an empty data disk, a disk the operator mounted. */
export const lsblkFixture = {
  blockdevices: [
    { path: '/dev/loop0', size: 67108864, model: null, type: 'loop', mountpoints: ['/snap/core/1'] },
    {
      path: '/dev/sda',
      size: 480103981056,
      model: 'INTEL SSDSC2KB480G8',
      type: 'disk',
      mountpoints: [null],
      children: [
        { path: '/dev/sda1', size: 511705088, model: null, type: 'part', mountpoints: ['/boot/efi'] },
        { path: '/dev/sda2', size: 510656512, model: null, type: 'part', mountpoints: ['/boot'] },
        {
          path: '/dev/sda3',
          size: 479079694336,
          model: null,
          type: 'part',
          mountpoints: [null],
          children: [
            {
              path: '/dev/mapper/blockhost--vg-root',
              size: 470000000000,
              model: null,
              type: 'lvm',
              mountpoints: ['/'],
            },
            {
              path: '/dev/mapper/blockhost--vg-swap_1',
              size: 8589934592,
              model: null,
              type: 'lvm',
              mountpoints: ['[SWAP]'],
            },
          ],
        },
      ],
    },
    // Trailing blanks in the model are the drive's own padding.
    { path: '/dev/sdb', size: 2000398934016, model: 'Samsung SSD 870  ', type: 'disk', mountpoints: [null] },
    {
      path: '/dev/nvme0n1',
      size: 1024209543168,
      model: 'WD Blue SN570 1TB',
      type: 'disk',
      mountpoints: [null],
      children: [
        {
          path: '/dev/nvme0n1p1',
          size: 1024208494592,
          model: null,
          type: 'part',
          mountpoints: ['/srv/data'],
        },
      ],
    },
    { path: '/dev/sr0', size: 1073741312, model: 'QEMU DVD-ROM', type: 'rom', mountpoints: [null] },
    { path: '/dev/zram0', size: 0, model: null, type: 'disk', mountpoints: [null] },
  ],
};

const addr = (family: 'inet' | 'inet6', local: string, prefixlen: number, scope = 'global') => ({
  family,
  local,
  prefixlen,
  scope,
  valid_life_time: 4294967295,
  preferred_life_time: 4294967295,
});
const link = (ifindex: number, ifname: string, address: string, addrInfo: object[], linkType = 'ether') => ({
  ifindex,
  ifname,
  flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
  mtu: 1500,
  qdisc: 'mq',
  operstate: 'UP',
  group: 'default',
  txqlen: 1000,
  link_type: linkType,
  address,
  broadcast: 'ff:ff:ff:ff:ff:ff',
  addr_info: addrInfo,
});

/** After k3s started: the host's NICs plus cni0, flannel.1 and a veth, which are k3s' own. */
export const ipAddressFixture = [
  link(
    1,
    'lo',
    '00:00:00:00:00:00',
    [addr('inet', '127.0.0.1', 8, 'host'), addr('inet6', '::1', 128, 'host')],
    'loopback',
  ),
  link(2, 'eno1', '3c:ec:ef:12:34:56', [
    addr('inet', '192.168.1.10', 24),
    addr('inet6', '2001:db8::10', 64),
    addr('inet6', 'fe80::3eec:efff:fe12:3456', 64, 'link'),
  ]),
  link(3, 'eno2', '3c:ec:ef:12:34:57', [addr('inet', '10.0.0.5', 24)]),
  link(4, 'eno3', '3c:ec:ef:12:34:58', []),
  // InfiniBand's 20-byte hardware address is no MAC the wizard can show.
  link(5, 'ib0', '00:00:10:29:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:bc:de', [], 'infiniband'),
  link(6, 'flannel.1', '12:34:56:78:9a:bc', [addr('inet', '10.42.0.0', 32)]),
  link(7, 'cni0', '12:34:56:78:9a:bd', [addr('inet', '10.42.0.1', 24)]),
  link(8, 'veth1a2b3c4d', '12:34:56:78:9a:be', [addr('inet6', 'fe80::1034:56ff:fe78:9abe', 64, 'link')]),
];

/** DHCP on eno1 (the one used), a second uplink with a worse metric on eno2. */
export const ipRouteFixture = [
  { dst: 'default', gateway: '10.0.0.1', dev: 'eno2', protocol: 'static', metric: 200, flags: [] },
  { dst: 'default', gateway: '192.168.1.1', dev: 'eno1', protocol: 'dhcp', metric: 100, flags: [] },
];

export interface HostFixtures {
  lsblk?: unknown;
  ipAddress?: unknown;
  /** A string is written as is (e.g. '' for an iproute2 that prints nothing). */
  ipRoute?: unknown;
}

/** Writes the fixtures to dir; returns the environment pointing blockhost-host-facts at them. */
export async function writeHostFixtures(
  dir: string,
  fixtures: HostFixtures = {},
): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true });
  const text = (value: unknown) => (typeof value === 'string' ? value : `${JSON.stringify(value)}\n`);
  await writeFile(join(dir, 'lsblk.json'), text(fixtures.lsblk ?? lsblkFixture));
  await writeFile(join(dir, 'ip-address.json'), text(fixtures.ipAddress ?? ipAddressFixture));
  await writeFile(join(dir, 'ip-route-default.json'), text(fixtures.ipRoute ?? ipRouteFixture));
  return {
    FAKE_HOST_DIR: dir,
    BLOCKHOST_LSBLK: `${installScripts.fakeHostTools} lsblk`,
    BLOCKHOST_IP: `${installScripts.fakeHostTools} ip`,
  };
}

/** What blockhost-host-facts makes of the fixtures above. */
export const expectedHostFacts = {
  blockDevices: [
    { path: '/dev/sda', sizeBytes: 480103981056, model: 'INTEL SSDSC2KB480G8', inUse: true },
    { path: '/dev/sdb', sizeBytes: 2000398934016, model: 'Samsung SSD 870', inUse: false },
    { path: '/dev/nvme0n1', sizeBytes: 1024209543168, model: 'WD Blue SN570 1TB', inUse: true },
  ],
  interfaces: [
    {
      name: 'eno1',
      mac: '3c:ec:ef:12:34:56',
      addresses: ['192.168.1.10/24', '2001:db8::10/64'],
      gateway: '192.168.1.1',
      defaultRoute: true,
    },
    {
      name: 'eno2',
      mac: '3c:ec:ef:12:34:57',
      addresses: ['10.0.0.5/24'],
      gateway: '10.0.0.1',
      defaultRoute: false,
    },
    { name: 'eno3', mac: '3c:ec:ef:12:34:58', addresses: [], defaultRoute: false },
    { name: 'ib0', addresses: [], defaultRoute: false },
  ],
};
