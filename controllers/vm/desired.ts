import { createHash } from 'node:crypto';
import { formatIp, parseCidr } from '../../lib/api/ip.js';
import type { HostConfig, VM } from '../../lib/api/v1alpha1/index.js';
import type { DesiredVm } from './backend.js';
import { blockhostGecos, renderCloudInit } from './cloud-init.js';

/** The /64 (or other) prefix VMs take their /128 from: leased from the broker, or set by hand. */
export function ipv6PrefixOf(host: HostConfig): string | undefined {
  return host.status?.ipv6Prefix ?? (host.spec.ipv6.mode === 'manual' ? host.spec.ipv6.prefix : undefined);
}

/**
 * KubeVirt on the pod network (no Multus network named): virt-launcher's masquerade NAT gives the
 * guest 10.0.2.2 by DHCP and the VM is reached at its pod IP, so pool addresses cannot work (a
 * static one in the guest cuts it off) and the address is the one KubeVirt reports.
 */
export const backendAssignsAddresses = (host: HostConfig): boolean =>
  host.spec.backend.type === 'kubevirt' && host.spec.backend.kubevirt?.networkName === undefined;

/** The guest's GECOS as the web3 PAM login reads it, or the VM's explicit override. */
export const wantedGecos = (vm: VM): string =>
  vm.spec.cloudInit.gecos ?? blockhostGecos(vm.spec.ownerWallet, vm.spec.nftTokenId);

/** Locally administered QEMU MAC (52:54:00:…) derived from the VM's UID: stable across re-creates. */
export function macAddressFor(uid: string): string {
  const bytes = createHash('sha256').update(uid).digest().subarray(0, 3);
  return `52:54:00:${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

/** The signing page the guest's login prompt links to: `sign` under the published signup URL. */
export function signingUrlOf(host: HostConfig): string | undefined {
  const signup = host.status?.signupUrl;
  if (!signup) return undefined;
  return new URL('sign', signup.endsWith('/') ? signup : `${signup}/`).toString();
}

/**
 * What the backend should run for `vm`: its size and image, and the same cloud-init on every
 * backend. `loginSecretKey` is the VM's pam_web3 secret (login-secret.ts).
 */
export function desiredVm(vm: VM, host: HostConfig, intentId: string, loginSecretKey: string): DesiredVm {
  const { name, namespace, uid } = vm.metadata;
  const pool = host.spec.ipv4Pool;
  const ipv4 = vm.spec.network?.ipv4;
  const ipv6 = vm.spec.network?.ipv6;
  const prefix = ipv6PrefixOf(host);
  const macAddress = macAddressFor(uid!);
  const cloudInit = renderCloudInit({
    name: name!,
    username: vm.spec.cloudInit.username,
    ownerWallet: vm.spec.ownerWallet,
    nftTokenId: vm.spec.nftTokenId,
    gecos: vm.spec.cloudInit.gecos,
    sshKeys: vm.spec.cloudInit.sshKeys,
    login: { secretKey: loginSecretKey, signingUrl: signingUrlOf(host) },
    network: backendAssignsAddresses(host)
      ? { macAddress } // DHCP from the masquerade NAT
      : ipv4 || ipv6
        ? {
            macAddress,
            ...(ipv4 && {
              ipv4: { address: ipv4, prefixLength: parseCidr(pool.network)!.prefix, gateway: pool.gateway },
            }),
            ...(ipv6 && prefix && { ipv6: { address: ipv6, gateway: ipv6Gateway(prefix) } }),
            dns: host.spec.network.dns,
          }
        : undefined,
  });
  return {
    namespace: namespace!,
    name: name!,
    uid: uid!,
    intentId,
    cpu: vm.spec.size.cpu,
    memoryMiB: vm.spec.size.memoryMiB,
    diskGiB: vm.spec.size.diskGiB,
    image: vm.spec.image,
    running: vm.spec.runStrategy === 'Always',
    cloudInit,
    macAddress,
    addresses: { ...(ipv4 && { ipv4 }), ...(ipv6 && { ipv6 }) },
  };
}

/** prefix::1 is the VMs' IPv6 gateway (INTEROP §5). */
function ipv6Gateway(prefix: string): string {
  return formatIp({ value: parseCidr(prefix)!.value + 1n, bits: 128 });
}
