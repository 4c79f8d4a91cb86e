/**
 * Publishes BlockHost's guest image to a backend: as a KubeVirt containerDisk tarball, or as a
 * Proxmox VE template VM. `--help` lists the subcommands and options.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { PveClient } from '../../controllers/vm/backends/proxmox/client.js';
import { buildContainerDisk } from './container-disk.js';
import { ensureGuestImage } from './guest-image.js';
import { publishProxmoxTemplate } from './proxmox-template.js';

const usage = `Usage: tsx images/guest/publish.ts <subcommand> [options]

Subcommands:
  container-disk      write the image as a KubeVirt containerDisk (OCI image layout tarball) that
                      \`ctr -n k8s.io images import --base-name <repo> <tar>\` loads without a registry
    --qcow2 <file>    disk image (default: the guest image, built first when missing)
    --out <file>      tarball (default: container-disk.tar next to the guest image)
    --name <name>     file name of the disk in the image, /disk/<name>.qcow2 (default: guest)
    --tag <tag>       image tag (default: the guest image's key)

  proxmox-template    upload the image to Proxmox VE and make it the template VM <vmid>
    --api-url <url>   https://<host>:8006/api2/json
    --node <node>     node that gets the template
    --token-id <id>   API token, user@realm!name (needs VM.Allocate, VM.Config.*, Datastore.AllocateSpace,
                      Datastore.AllocateTemplate, Datastore.Audit)
    --token-secret-file <file>   file holding the token's secret (or env PVE_TOKEN_SECRET)
    --vmid <n>        VMID of the template (HostConfig backend.proxmox.images[].templateVmid)
    --name <name>     VM name of the template (default: blockhost-guest)
    --import-storage <id>   file storage with content "import" for the upload (default: local)
    --storage <id>    storage for the template's disk (default: local-lvm)
    --bridge <name>   bridge of the template's NIC (default: vmbr0)
    --ca <file>       PEM CA to trust for the API's certificate
    --insecure        accept any certificate
    --qcow2 <file>    disk image (default: the guest image)

  -h, --help          show this help

The result is printed as JSON on stdout; progress goes to stderr. Exit status: 0 when published
(or already there), 1 on failure, 2 on bad usage.`;

const progress = (line: string) => console.error(`[publish] ${line}`);

class UsageError extends Error {}

function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === '') throw new UsageError(`missing ${flag}`);
  return value;
}

async function qcow2Of(path: string | undefined) {
  if (path) return { qcow2: path, image: undefined };
  const image = await ensureGuestImage();
  return { qcow2: image.baseImage, image };
}

async function containerDisk(args: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args,
    options: {
      qcow2: { type: 'string' },
      out: { type: 'string' },
      name: { type: 'string' },
      tag: { type: 'string' },
    },
  });
  const { qcow2, image } = await qcow2Of(values.qcow2);
  const out = values.out ?? (image ? join(image.dir, 'container-disk.tar') : undefined);
  const tag = values.tag ?? image?.key;
  return buildContainerDisk(qcow2, required(out, '--out (needed with --qcow2)'), {
    name: values.name ?? 'guest',
    tag: required(tag, '--tag (needed with --qcow2)'),
    progress,
  });
}

async function proxmoxTemplate(args: string[]): Promise<unknown> {
  const { values } = parseArgs({
    args,
    options: Object.fromEntries(
      [
        'api-url',
        'node',
        'token-id',
        'token-secret-file',
        'vmid',
        'name',
        'import-storage',
        'storage',
        'bridge',
        'ca',
        'qcow2',
      ]
        .map((key) => [key, { type: 'string' as const }])
        .concat([['insecure', { type: 'boolean' as const }]]),
    ),
  });
  const text = (key: string) => values[key] as string | undefined;
  const vmid = Number(required(text('vmid'), '--vmid'));
  if (!Number.isInteger(vmid)) throw new UsageError(`--vmid must be a number, not "${text('vmid')}"`);
  const secretFile = text('token-secret-file');
  const secret = secretFile ? (await readFile(secretFile, 'utf8')).trim() : process.env.PVE_TOKEN_SECRET;
  const client = new PveClient({
    apiUrl: required(text('api-url'), '--api-url'),
    token: {
      tokenId: required(text('token-id'), '--token-id'),
      secret: required(secret, '--token-secret-file or PVE_TOKEN_SECRET'),
    },
    insecureSkipTLSVerify: values.insecure === true,
    ca: text('ca') ? await readFile(text('ca')!, 'utf8') : undefined,
    log: pino(
      { level: process.env.LOG_LEVEL ?? 'warn', base: { component: 'publish' } },
      pino.destination(2),
    ),
  });
  try {
    const { qcow2 } = await qcow2Of(text('qcow2'));
    return await publishProxmoxTemplate({
      client,
      node: required(text('node'), '--node'),
      importStorage: text('import-storage') ?? 'local',
      storage: text('storage') ?? 'local-lvm',
      bridge: text('bridge') ?? 'vmbr0',
      templateVmid: vmid,
      name: text('name') ?? 'blockhost-guest',
      qcow2Path: qcow2,
      progress,
    });
  } finally {
    await client.close();
  }
}

const [subcommand, ...rest] = process.argv.slice(2);
if (subcommand === undefined || subcommand === '-h' || subcommand === '--help') {
  console.log(usage);
  process.exit(subcommand === undefined ? 2 : 0);
}
try {
  const commands: Record<string, (args: string[]) => Promise<unknown>> = {
    'container-disk': containerDisk,
    'proxmox-template': proxmoxTemplate,
  };
  const command = commands[subcommand];
  if (!command) throw new UsageError(`unknown subcommand "${subcommand}"`);
  console.log(JSON.stringify(await command(rest), null, 2));
} catch (error) {
  const usageError =
    error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  console.error(`${(error as Error).message}${usageError ? ' (see --help)' : ''}`);
  process.exit(usageError ? 2 : 1);
}
