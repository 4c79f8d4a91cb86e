/** The form of each step; field names are the step schema's paths (steps.ts). */
import { html, type SafeHtml } from '../assets/html.js';
import { checkbox, input, radios, repeat, select, valueAt, when, type Values } from './fields.js';
import type { HostFacts } from './host-facts.js';
import type { StepName } from './steps.js';

export interface FormContext {
  values: Values;
  facts: HostFacts | undefined;
  /** An imported server key's address (the key itself never comes back). */
  serverAddress?: string;
  /** A Proxmox token secret is stored in the session. */
  hasProxmoxSecret: boolean;
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(0)} GiB`;

function network({ values, facts }: FormContext): SafeHtml {
  const interfaces = facts?.interfaces ?? [];
  const suggested = interfaces.find((i) => i.defaultRoute)?.name;
  return html`
    ${radios(values, 'network.mode', 'Host address', [
      ['dhcp', 'DHCP (keep the address the network gives)'],
      ['static', 'Static address'],
    ])}
    ${when(
      'network.mode=static',
      interfaces.length > 0
        ? select(
            values,
            'network.interface',
            'Interface',
            interfaces.map((i) => [i.name, `${i.name} ${i.addresses.join(' ')}`] as const),
            suggested,
          )
        : input(values, 'network.interface', 'Interface', {
            hint: 'The host did not report its interfaces; absent: the one with the default route.',
          }),
      input(values, 'network.address', 'Address with prefix length', { placeholder: '192.168.1.10/24' }),
      input(values, 'network.gateway', 'Gateway', {
        placeholder: '192.168.1.1',
        hint: 'Must be inside the subnet of the address.',
      }),
      input(values, 'network.dns', 'DNS servers', {
        kind: 'list',
        placeholder: '192.168.1.1, 9.9.9.9',
        hint: 'Up to 3, separated by commas.',
      }),
      html`<p class="notice warn" role="note">
        The server applies a changed address within about 30 s and checks that the gateway answers; if it does
        not, the previous address comes back (k3s/README.md, "Network changes after setup").
      </p>`,
    )}
    ${input(values, 'signup.hostname', 'Public host name (optional)', { placeholder: 'vms.example.com', hint: 'Where customers find the signup page; absent: the node address.' })}
  `;
}

function storage({ values, facts }: FormContext): SafeHtml {
  const disks = (facts?.blockDevices ?? []).filter((d) => !d.inUse);
  return html`
    ${radios(
      values,
      'storage.device',
      'Disk for VM storage',
      [
        ['', "Use the node's existing storage"],
        ...disks.map(
          (d) => [d.path, `${d.path} — ${gib(d.sizeBytes)}${d.model ? ` (${d.model})` : ''}`] as const,
        ),
      ],
      { fallback: '' },
    )}
    ${facts ? '' : html`<p class="hint">The host did not report its disks, so only its existing storage can be used.</p>`}
  `;
}

function chain({ values, serverAddress }: FormContext): SafeHtml {
  return html`
    ${input(values, 'chain.chainId', 'Chain id', { kind: 'int', fallback: 11155111, hint: '1 Ethereum, 11155111 Sepolia, 31337 a local anvil.' })}
    ${input(values, 'chain.rpcEndpoints', 'RPC endpoints', { kind: 'list', multiline: true, placeholder: 'https://…', hint: 'One per line; tried in order. Each must answer with the chain id above.' })}
    ${input(values, 'chain.confirmations', 'Confirmations', { kind: 'int', fallback: 12 })}
    ${radios(
      values,
      'chain.deploy',
      'Contracts',
      [
        ['true', 'Deploy new contracts'],
        ['false', 'Use contracts already deployed'],
      ],
      { fallback: 'true', kind: 'bool' },
    )}
    ${when('chain.deploy=true', input(values, 'chain.stablecoin', 'Stablecoin (ERC-20) address', { placeholder: '0x…', hint: 'Optional on chains with known USDC (1, 11155111).' }))}
    ${when(
      'chain.deploy=false',
      input(values, 'chain.contracts.subscriptions', 'BlockhostSubscriptions address', {
        placeholder: '0x…',
      }),
      input(values, 'chain.contracts.nft', 'AccessCredentialNFT address', { placeholder: '0x…' }),
      input(values, 'chain.contracts.startBlock', 'Deployment block (optional)', { kind: 'int' }),
    )}
    ${radios(values, 'serverWallet', 'Server wallet', [
      ['generate', 'Generate a new wallet (or keep the one stored on this host)'],
      ['import', 'Import an existing private key'],
    ])}
    ${when(
      'serverWallet=import',
      html`<label for="server-key">Private key</label>
        <input
          id="server-key"
          type="password"
          autocomplete="off"
          data-ignore
          aria-describedby="server-key-hint"
        />
        <p class="hint" id="server-key-hint">
          Sent once to the server, kept in memory until you apply, never shown again.
        </p>
        <button type="button" class="secondary" id="server-key-check">Check key and balance</button>
        <p id="server-key-status" class="mono" role="status">
          ${serverAddress ? `Key entered for ${serverAddress}` : ''}
        </p>`,
    )}
  `;
}

function planRow(values: Values, index: number): SafeHtml {
  const p = `plans.${index}`;
  return html`
    ${input(values, `${p}.displayName`, 'Name', { placeholder: 'Basic VM' })}
    ${input(values, `${p}.priceUsdCentsPerDay`, 'Price (US cents per day)', { kind: 'int', placeholder: '50' })}
    <div class="row">
      <div>${input(values, `${p}.size.cpu`, 'vCPUs', { kind: 'int', fallback: 1 })}</div>
      <div>${input(values, `${p}.size.memoryMiB`, 'Memory (MiB)', { kind: 'int', fallback: 2048 })}</div>
      <div>${input(values, `${p}.size.diskGiB`, 'Disk (GiB)', { kind: 'int', fallback: 20 })}</div>
    </div>
    ${input(values, `${p}.size.image`, 'Image (optional)', { hint: "A name from the backend's images; absent: the first." })}
  `;
}

function recipientRow(values: Values, index: number): SafeHtml {
  const p = `revenueShare.recipients.${index}`;
  return html`
    ${input(values, `${p}.role`, 'Role', { placeholder: 'dev' })}
    ${input(values, `${p}.address`, 'Address (not needed for dev and broker)', { placeholder: '0x…' })}
    ${input(values, `${p}.percent`, 'Percent', { kind: 'number' })}
  `;
}

function plans({ values }: FormContext): SafeHtml {
  const count = Math.max(1, (valueAt(values, 'plans') as unknown[] | undefined)?.length ?? 0);
  const recipients = Math.max(
    1,
    (valueAt(values, 'revenueShare.recipients') as unknown[] | undefined)?.length ?? 0,
  );
  return html`
    ${repeat(
      'plans',
      'Plan',
      Array.from({ length: count }, (_, i) => planRow(values, i)),
    )}
    <h3>Revenue share</h3>
    ${checkbox(values, 'revenueShare.enabled', 'Share revenue')}
    ${when(
      'revenueShare.enabled=true',
      input(values, 'revenueShare.totalPercent', 'Total percent shared', { kind: 'number', fallback: 1 }),
      repeat(
        'revenueShare.recipients',
        'Recipient',
        Array.from({ length: recipients }, (_, i) => recipientRow(values, i)),
      ),
    )}
  `;
}

function backend({ values, hasProxmoxSecret }: FormContext): SafeHtml {
  const kv = 'backend.kubevirt';
  const lv = 'backend.libvirt';
  const px = 'backend.proxmox';
  return html`
    ${radios(values, 'backend.type', 'VM backend', [
      ['kubevirt', 'KubeVirt (VMs as Kubernetes objects)'],
      ['libvirt', 'libvirt on this host'],
      ['proxmox', 'Proxmox VE'],
    ])}
    ${when(
      'backend.type=kubevirt',
      input(values, `${kv}.namespace`, 'Namespace for VMs (optional)'),
      input(values, `${kv}.storageClass`, 'StorageClass (optional)'),
      input(values, `${kv}.networkName`, 'Multus network (optional)', { placeholder: 'namespace/name' }),
      input(values, `${kv}.images.0.name`, 'Image name', { fallback: 'debian-12' }),
      input(values, `${kv}.images.0.containerDisk`, 'Container disk image', {
        hint: 'Set one source: a container disk, or an HTTP URL below.',
      }),
      input(values, `${kv}.images.0.http`, 'Image URL (qcow2 or raw)'),
    )}
    ${when(
      'backend.type=libvirt',
      input(values, `${lv}.uri`, 'Connection URI', { fallback: 'qemu:///system' }),
      select(
        values,
        `${lv}.networkMode`,
        'Network',
        [
          ['bridge', 'Bridge (VMs on the host network)'],
          ['nat', 'NAT (libvirt network)'],
        ],
        'bridge',
      ),
      input(values, `${lv}.bridge`, 'Bridge', { fallback: 'br0' }),
      input(values, `${lv}.natNetwork`, 'libvirt network (NAT)', { fallback: 'default' }),
      input(values, `${lv}.storagePool`, 'Storage pool', { fallback: 'default' }),
      select(
        values,
        `${lv}.accelerator`,
        'Accelerator',
        [
          ['kvm', 'KVM'],
          ['tcg', 'TCG (software emulation)'],
        ],
        'kvm',
      ),
      input(values, `${lv}.images.0.name`, 'Image name', { fallback: 'debian-12' }),
      input(values, `${lv}.images.0.path`, 'Base image path (qcow2)', {
        placeholder: '/var/lib/blockhost/images/debian-12.qcow2',
      }),
      html`<p class="notice info" role="note">
        The web server runs in a pod and cannot reach libvirtd: the connection is checked after you apply
        (step "VM backend" on the progress page).
      </p>`,
    )}
    ${when(
      'backend.type=proxmox',
      input(values, `${px}.apiUrl`, 'API URL', { placeholder: 'https://pve.example:8006/api2/json' }),
      input(values, `${px}.node`, 'Node', { fallback: 'pve' }),
      input(values, 'proxmoxToken.tokenId', 'API token id', { placeholder: 'blockhost@pve!wizard' }),
      input(values, 'proxmoxToken.secret', 'API token secret', {
        type: 'password',
        hint: hasProxmoxSecret
          ? 'A secret is stored; leave blank to keep it.'
          : 'Stored in a Secret at apply; never shown again.',
      }),
      checkbox(
        values,
        `${px}.insecureSkipTLSVerify`,
        'Accept the certificate without verification (self-signed)',
      ),
      input(values, `${px}.storage`, 'Disk storage', { fallback: 'local-lvm' }),
      input(values, `${px}.isoStorage`, 'ISO storage', { fallback: 'local' }),
      input(values, `${px}.bridge`, 'Bridge', { fallback: 'vmbr0' }),
      html`<div class="row">
        <div>${input(values, `${px}.vmidRange.start`, 'First VMID', { kind: 'int', fallback: 100 })}</div>
        <div>${input(values, `${px}.vmidRange.end`, 'Last VMID', { kind: 'int', fallback: 999 })}</div>
      </div>`,
      input(values, `${px}.images.0.name`, 'Image name', { fallback: 'debian-12' }),
      input(values, `${px}.images.0.templateVmid`, 'Template VMID', { kind: 'int', placeholder: '9000' }),
    )}
    ${input(values, 'gcGraceDays', 'Days to keep an expired VM before destroying it', { kind: 'int', fallback: 7 })}
  `;
}

function ipv4({ values }: FormContext): SafeHtml {
  return html`
    ${input(values, 'ipv4Pool.network', 'Network', { placeholder: '192.168.122.0/24' })}
    ${input(values, 'ipv4Pool.start', 'First address for VMs', { placeholder: '192.168.122.200' })}
    ${input(values, 'ipv4Pool.end', 'Last address for VMs', { placeholder: '192.168.122.250' })}
    ${input(values, 'ipv4Pool.gateway', 'Gateway for VMs', { placeholder: '192.168.122.1', hint: 'Inside the network, outside the range above.' })}
  `;
}

function ipv6({ values }: FormContext): SafeHtml {
  return html`
    ${radios(values, 'ipv6.mode', 'IPv6 for VMs', [
      ['none', 'None (IPv4 only)'],
      ['broker', 'Lease a prefix from a BlockHost broker'],
      ['manual', 'A routed prefix I have'],
    ])}
    ${when('ipv6.mode=manual', input(values, 'ipv6.prefix', 'Prefix', { placeholder: '2001:db8:42::/64' }))}
    ${when(
      'ipv6.mode=broker',
      input(values, 'ipv6.brokerRegistry', 'Broker registry contract', { placeholder: '0x…' }),
      input(values, 'ipv6.allocationSize', 'Prefix length to request', { kind: 'int', fallback: 64 }),
    )}
  `;
}

function admin({ values }: FormContext): SafeHtml {
  const c = 'admin.commands';
  return html`
    ${checkbox(values, `${c}.enabled`, 'Accept on-chain admin commands (port knocking)')}
    ${when(
      `${c}.enabled=true`,
      input(values, `${c}.commandName`, 'Secret command name', {
        hint: 'Letters, digits, "_" and "-"; commands with another name are ignored.',
      }),
      input(values, `${c}.ports`, 'Ports a knock opens', { kind: 'list-int', fallback: [22] }),
      input(values, `${c}.durationSeconds`, 'Seconds the ports stay open', { kind: 'int', fallback: 300 }),
    )}
  `;
}

export const STEP_FORMS: Record<StepName, (context: FormContext) => SafeHtml> = {
  network,
  storage,
  chain,
  plans,
  backend,
  ipv4,
  ipv6,
  admin,
};
