// Configuration backup: export (sign the public secret, download the encrypted file) and import
// (choose a file, sign, review the server's diff, then apply only on an explicit confirmation).
import type { ImportPreview } from '../backup.js';
import { ApiError } from '../../shared/page/api.js';
import { byId, el, hideNotice, showNotice, whileBusy } from '../../shared/page/dom.js';
import { connect, injectedProvider, personalSign, WalletError } from '../../shared/page/wallet.js';
import { adminApi, fillDetails, reportFailure, table } from './common.js';

let info: { wallet: string; publicSecret: string } | undefined;
/** The file and signature the preview was made from; apply sends the same. */
let pending: { backup: unknown; signature: string; generation?: number } | undefined;

const shown = (value: unknown) => (value === undefined ? '—' : JSON.stringify(value));

/** The admin's signature of the public secret: the key of the backup (INTEROP §2). */
async function sign(): Promise<string> {
  const provider = injectedProvider();
  const account = await connect(provider);
  return personalSign(provider, account, info!.publicSecret, 'sign the public secret');
}

function fail(error: unknown): void {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return;
  const detail =
    error instanceof ApiError && Object.keys(error.fields).length
      ? Object.entries(error.fields)
          .slice(0, 5)
          .map(([path, message]) => `${path}: ${message}`)
          .join('; ')
      : undefined;
  showNotice(byId('notice'), 'error', error instanceof Error ? error.message : String(error), detail);
}

async function exportBackup(): Promise<void> {
  hideNotice(byId('notice'));
  try {
    const signature = await sign();
    const { filename, backup } = await adminApi<{ filename: string; backup: unknown }>('/api/backup/export', {
      method: 'POST',
      body: { signature },
    });
    const url = URL.createObjectURL(
      new Blob([JSON.stringify(backup, null, 2)], { type: 'application/json' }),
    );
    const link = el('a', { href: url, download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    showNotice(byId('notice'), 'ok', `Backup downloaded as ${filename}.`, 'Only your wallet can open it.');
  } catch (error) {
    fail(error instanceof WalletError ? new Error(error.message) : error);
  }
}

function showPreview(preview: ImportPreview): void {
  const { changes } = preview.hostConfig;
  byId('import-changes').replaceChildren(
    changes.length === 0
      ? el('p', { class: 'hint' }, 'The HostConfig is the same as in the backup.')
      : table(
          ['Field', 'Now', 'From the backup'],
          changes.map((c) => [el('span', { class: 'mono' }, c.path), shown(c.from), shown(c.to)]),
        ),
  );
  const list = (names: string[]) => (names.length ? names.join(', ') : '—');
  fillDetails(byId('import-plans'), [
    ['Backup made', preview.createdAt],
    ['Plans added', list(preview.plans.added)],
    ['Plans changed', list(preview.plans.changed)],
    ['Plans unchanged', list(preview.plans.unchanged)],
    ['Plans not in the backup (kept)', list(preview.plans.notInBackup)],
  ]);
  byId('import-review').hidden = false;
  byId('import-review').scrollIntoView();
}

async function review(): Promise<void> {
  hideNotice(byId('notice'));
  byId('import-review').hidden = true;
  pending = undefined;
  const file = byId<HTMLInputElement>('import-file').files?.[0];
  if (!file) {
    showNotice(byId('notice'), 'error', 'Choose a backup file first.');
    return;
  }
  let backup: unknown;
  try {
    backup = JSON.parse(await file.text());
  } catch {
    showNotice(byId('notice'), 'error', `${file.name} is not a BlockHost configuration backup (not JSON).`);
    return;
  }
  try {
    const signature = await sign();
    const { preview } = await adminApi<{ preview: ImportPreview }>('/api/backup/import', {
      method: 'POST',
      body: { backup, signature },
    });
    pending = {
      backup,
      signature,
      ...(preview.generation !== undefined && { generation: preview.generation }),
    };
    showPreview(preview);
  } catch (error) {
    fail(error instanceof WalletError ? new Error(error.message) : error);
  }
}

async function applyImport(): Promise<void> {
  if (!pending) return;
  try {
    const { preview } = await adminApi<{ preview: ImportPreview }>('/api/backup/import', {
      method: 'POST',
      body: { ...pending, confirm: true },
    });
    pending = undefined;
    byId('import-review').hidden = true;
    showNotice(
      byId('notice'),
      'ok',
      'Configuration imported.',
      `${preview.hostConfig.changes.length} HostConfig change(s); the controllers apply them now.`,
    );
  } catch (error) {
    fail(error);
  }
}

export async function backupPage(): Promise<void> {
  try {
    info = await adminApi<{ wallet: string; publicSecret: string }>('/api/backup');
    byId('backup-message').textContent = `"${info.publicSecret}"`;
  } catch (error) {
    reportFailure(error);
    return;
  }
  const exportButton = byId<HTMLButtonElement>('export');
  exportButton.addEventListener('click', () => void whileBusy(exportButton, exportBackup));
  const check = byId<HTMLButtonElement>('import-check');
  byId('import-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void whileBusy(check, review);
  });
  const applyButton = byId<HTMLButtonElement>('import-apply');
  applyButton.addEventListener('click', () => void whileBusy(applyButton, applyImport));
  byId('import-cancel').addEventListener('click', () => {
    pending = undefined;
    byId('import-review').hidden = true;
  });
}
