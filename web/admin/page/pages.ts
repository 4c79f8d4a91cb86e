// The read-mostly pages: subscriptions, wallet, network and security, system (and its host name).
import { ApiError } from '../../shared/page/api.js';
import { byId, el, showNotice, whileBusy } from '../../shared/page/dom.js';
import { clearFieldErrors, showFieldErrors } from '../../shared/page/forms.js';
import type { WalletBalance } from '../wallet.js';
import type { publicNameOf } from '../hostname.js';
import { wireHostname } from './hostname.js';
import { wireWalletRequests } from './wallet-requests.js';
import { adminApi, dateTime, fillDetails, reportFailure, table, units } from './common.js';

const mono = (text: string | undefined) => el('span', { class: 'mono' }, text ?? '—');

export async function subscriptionsPage(): Promise<void> {
  try {
    const { subscriptions } = await adminApi<{
      subscriptions: {
        name: string;
        subscriptionId: string;
        planId: string;
        subscriber: string;
        expiresAt: string;
        phase: string;
        vm?: string;
        tokenId?: string;
        holder?: string;
        message?: string;
      }[];
    }>('/api/subscriptions');
    byId('subscription-table').replaceChildren(
      subscriptions.length === 0
        ? el('p', { class: 'hint' }, 'No subscriptions yet.')
        : table(
            ['Id', 'Phase', 'Plan', 'Subscriber', 'Expires', 'VM', 'NFT'],
            subscriptions.map((s) => [
              s.subscriptionId,
              s.message ? `${s.phase}: ${s.message}` : s.phase,
              s.planId,
              mono(s.subscriber),
              dateTime(s.expiresAt),
              s.vm ?? '—',
              s.tokenId !== undefined ? `#${s.tokenId}${s.holder ? ` held by ${s.holder}` : ''}` : '—',
            ]),
          ),
    );
  } catch (error) {
    reportFailure(error);
  }
}

interface WalletInfo {
  chainId: number;
  stablecoin?: { address: string; symbol: string; decimals: number };
  wallets: WalletBalance[];
}

/** Loads and shows the balances; called again when a withdraw or send is confirmed. */
async function showBalances(): Promise<WalletInfo> {
  const wallet = await adminApi<WalletInfo>('/api/wallet');
  const coin = wallet.stablecoin;
  byId('balances').replaceChildren(
    table(
      ['Wallet', 'Address', 'ETH', coin?.symbol ?? 'Stablecoin'],
      wallet.wallets.map((w) => [
        w.label,
        mono(w.address),
        w.error ?? units(w.native, 18),
        w.error ? '—' : coin ? units(w.token, coin.decimals) : '—',
      ]),
      `Chain ${wallet.chainId}`,
    ),
  );
  return wallet;
}

export async function walletPage(): Promise<void> {
  try {
    const wallet = await showBalances();
    wireWalletRequests(
      {
        ...(wallet.stablecoin && { stablecoin: wallet.stablecoin }),
        admin: wallet.wallets.find((w) => w.role === 'admin')?.address ?? '',
      },
      () => void showBalances().catch(reportFailure),
    );
  } catch (error) {
    reportFailure(error);
  }
}

interface Commands {
  enabled: boolean;
  commandName?: string;
  ports: number[];
  durationSeconds: number;
  maxCommandAgeSeconds: number;
}

export async function networkPage(): Promise<void> {
  let generation = 0;
  const form = byId<HTMLFormElement>('security-form');
  const input = (id: string) => byId<HTMLInputElement>(id);
  const fill = (commands: Commands) => {
    input('commands-enabled').checked = commands.enabled;
    input('commands-name').value = commands.commandName ?? '';
    input('commands-ports').value = commands.ports.join(', ');
    input('commands-duration').value = String(commands.durationSeconds);
    input('commands-age').value = String(commands.maxCommandAgeSeconds);
  };
  try {
    const network = await adminApi<{
      network: { mode: string; interface?: string; address?: string; gateway?: string; dns?: string[] };
      ipv4Pool: { network: string; start: string; end: string; gateway: string };
      ipv6: { mode: string; prefix?: string; prefixInUse?: string };
      commands: Commands;
      generation: number;
      applied?: { phase: string; message: string; appliedGeneration?: number; time?: string };
    }>('/api/network');
    generation = network.generation;
    const host = network.network;
    const applied = network.applied;
    fillDetails(byId('network-details'), [
      [
        'Host address',
        host.mode === 'dhcp'
          ? `DHCP${host.interface ? ` on ${host.interface}` : ''}`
          : `${host.address} via ${host.gateway}`,
      ],
      [
        'On the server',
        !applied
          ? 'Not reported yet (the server applies network changes within about 30 s)'
          : `${applied.phase}${applied.appliedGeneration === generation ? '' : ' (an earlier version)'}: ${applied.message}${applied.time ? ` — ${applied.time}` : ''}`,
      ],
      [
        'VM IPv4 pool',
        mono(`${network.ipv4Pool.start} – ${network.ipv4Pool.end} in ${network.ipv4Pool.network}`),
      ],
      ['VM IPv4 gateway', mono(network.ipv4Pool.gateway)],
      [
        'IPv6',
        network.ipv6.mode === 'none'
          ? 'Off (IPv4 only)'
          : `${network.ipv6.mode}: ${network.ipv6.prefixInUse ?? network.ipv6.prefix ?? 'no prefix yet'}`,
      ],
    ]);
    fill(network.commands);
  } catch (error) {
    reportFailure(error);
  }
  const save = byId<HTMLButtonElement>('security-save');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void whileBusy(save, async () => {
      clearFieldErrors(form);
      const notice = byId('security-notice');
      const ports = input('commands-ports')
        .value.split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      const name = input('commands-name').value.trim();
      try {
        const saved = await adminApi<{ commands: Commands; generation: number }>('/api/security', {
          method: 'POST',
          body: {
            generation,
            commands: {
              enabled: input('commands-enabled').checked,
              ...(name && { commandName: name }),
              // Numbers as typed: the server names a field that is not a whole number in range.
              ports: ports.map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
              durationSeconds: Number(input('commands-duration').value),
              maxCommandAgeSeconds: Number(input('commands-age').value),
            },
          },
        });
        generation = saved.generation;
        fill(saved.commands);
        showNotice(notice, 'ok', 'Saved. The controllers apply the new settings.');
      } catch (error) {
        if (error instanceof ApiError && Object.keys(error.fields).length) {
          // One input holds every port: errors of `commands.ports.1` belong under it.
          const fields = Object.fromEntries(
            Object.entries(error.fields).map(([path, message]) => [
              path.replace(/^(commands\.ports)\.\d+$/, '$1'),
              message,
            ]),
          );
          const unplaced = showFieldErrors(form, fields);
          showNotice(notice, 'error', error.message, unplaced.join(' '));
        } else if (!(error instanceof ApiError && (error.status === 401 || error.status === 403)))
          showNotice(notice, 'error', error instanceof Error ? error.message : String(error));
      }
    });
  });
}

interface SystemInfo {
  publicName: ReturnType<typeof publicNameOf>;
  backend: string;
  storageDevice?: string;
  nodes:
    | {
        items: {
          name: string;
          kubeletVersion?: string;
          osImage?: string;
          kernelVersion?: string;
          architecture?: string;
          capacity: Record<string, string>;
          conditions: { type: string; status: string }[];
        }[];
      }
    | { error: string };
  storageClasses:
    | { items: { name: string; provisioner?: string; reclaimPolicy?: string; default: boolean }[] }
    | { error: string };
}

export async function systemPage(): Promise<void> {
  try {
    const system = await adminApi<SystemInfo>('/api/system');
    wireHostname(system.publicName);
    const nodes = byId('nodes');
    if ('error' in system.nodes)
      nodes.replaceChildren(el('p', { class: 'hint' }, `Unavailable: ${system.nodes.error}.`));
    else if (system.nodes.items.length === 0)
      nodes.replaceChildren(
        el('p', { class: 'hint' }, 'This cluster reports no nodes (a control plane without a kubelet).'),
      );
    else
      nodes.replaceChildren(
        ...system.nodes.items.map((node) => {
          const list = el('dl', { class: 'details' });
          fillDetails(list, [
            ['Node', node.name],
            ['Kubelet', node.kubeletVersion ?? '—'],
            ['OS', `${node.osImage ?? '—'} (${node.kernelVersion ?? '—'}, ${node.architecture ?? '—'})`],
            [
              'Capacity',
              `${node.capacity.cpu ?? '?'} CPU, ${node.capacity.memory ?? '?'} memory, ${node.capacity['ephemeral-storage'] ?? '?'} disk`,
            ],
            ['Conditions', node.conditions.map((c) => `${c.type}=${c.status}`).join(', ') || '—'],
          ]);
          return list;
        }),
      );
    fillDetails(byId('storage-details'), [
      ['VM backend', system.backend],
      ['VM storage disk', system.storageDevice ?? 'the storage the node already has'],
    ]);
    const classes = system.storageClasses;
    byId('storage-classes').replaceChildren(
      'error' in classes
        ? el('p', { class: 'hint' }, `Storage classes unavailable: ${classes.error}.`)
        : classes.items.length === 0
          ? el('p', { class: 'hint' }, 'No storage classes in this cluster.')
          : table(
              ['Storage class', 'Provisioner', 'Reclaim', 'Default'],
              classes.items.map((c) => [
                c.name,
                c.provisioner ?? '—',
                c.reclaimPolicy ?? '—',
                c.default ? 'yes' : '',
              ]),
            ),
    );
  } catch (error) {
    reportFailure(error);
  }
}
