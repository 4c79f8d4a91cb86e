/** XML namespace of the metadata BlockHost keeps on its domains. */
export const METADATA_NAMESPACE = 'https://blockhost.io/xmlns/libvirt/vm/1';

export interface DomainXmlInput {
  name: string;
  /** Tag read back by observe after a crash between define and recording the domain UUID. */
  intentId: string;
  uid: string;
  macAddress: string;
  cpu: number;
  memoryMiB: number;
  accelerator: 'kvm' | 'tcg';
  diskPath: string;
  seedIsoPath: string;
  network: { mode: 'bridge'; bridge: string } | { mode: 'nat'; network: string };
  directKernelBoot?: { kernel: string; initrd?: string; cmdline: string };
  /** Guest serial console is kept in this file for operators (libvirt's log). */
  consoleLogPath: string;
}

const escapeXml = (value: string) =>
  value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/'/g, '&apos;')
    .replace(/"/g, '&quot;');

function interfaceXml(input: DomainXmlInput): string {
  const source =
    input.network.mode === 'bridge'
      ? `<interface type='bridge'>\n      <source bridge='${escapeXml(input.network.bridge)}'/>`
      : `<interface type='network'>\n      <source network='${escapeXml(input.network.network)}'/>`;
  return `${source}
      <mac address='${escapeXml(input.macAddress)}'/>
      <model type='virtio'/>
    </interface>`;
}

function osXml(input: DomainXmlInput): string {
  const boot = input.directKernelBoot
    ? [
        `<kernel>${escapeXml(input.directKernelBoot.kernel)}</kernel>`,
        ...(input.directKernelBoot.initrd
          ? [`<initrd>${escapeXml(input.directKernelBoot.initrd)}</initrd>`]
          : []),
        `<cmdline>${escapeXml(input.directKernelBoot.cmdline)}</cmdline>`,
      ]
    : [`<boot dev='hd'/>`];
  return `<os>
    <type arch='x86_64' machine='pc'>hvm</type>
    ${boot.join('\n    ')}
  </os>`;
}

/**
 * The libvirt domain of one VM: its qcow2 overlay as a virtio disk, the NoCloud seed as a cdrom, one
 * virtio NIC on the bridge or NAT network, the QEMU guest agent channel, and a serial console
 * logged to a file. No graphics: libvirt 9 rejects `type='none'`, and nobody looks at a screen.
 */
export function renderDomainXml(input: DomainXmlInput): string {
  const type = input.accelerator === 'kvm' ? 'kvm' : 'qemu';
  return `<domain type='${type}'>
  <name>${escapeXml(input.name)}</name>
  <metadata>
    <blockhost:vm xmlns:blockhost='${METADATA_NAMESPACE}' intent='${escapeXml(input.intentId)}' uid='${escapeXml(input.uid)}'/>
  </metadata>
  <memory unit='MiB'>${input.memoryMiB}</memory>
  <vcpu>${input.cpu}</vcpu>
  ${osXml(input)}
  <features><acpi/><apic/></features>${input.accelerator === 'kvm' ? "\n  <cpu mode='host-passthrough'/>" : ''}
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${escapeXml(input.diskPath)}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='${escapeXml(input.seedIsoPath)}'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    ${interfaceXml(input)}
    <serial type='pty'>
      <log file='${escapeXml(input.consoleLogPath)}' append='on'/>
      <target port='0'/>
    </serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
  </devices>
</domain>
`;
}

/** The intent tag of a domain's XML (`virsh dumpxml`), if BlockHost defined it. */
export function intentOf(domainXml: string): string | undefined {
  return /<blockhost:vm\b[^>]*\bintent=['"]([^'"]+)['"]/.exec(domainXml)?.[1];
}
