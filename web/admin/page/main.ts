// Admin dashboard entry: one bundle, dispatched on the page the server rendered (<meta name="bh-page">).
import { meta } from '../../shared/page/dom.js';
import { backupPage } from './backup.js';
import { wireLogout } from './common.js';
import { loginPage } from './login.js';
import { overviewPage } from './overview.js';
import { networkPage, subscriptionsPage, systemPage, walletPage } from './pages.js';
import { vmsPage } from './vms.js';

const PAGES: Record<string, () => Promise<void>> = {
  overview: overviewPage,
  vms: vmsPage,
  subscriptions: subscriptionsPage,
  wallet: walletPage,
  network: networkPage,
  system: systemPage,
  backup: backupPage,
};

async function main(): Promise<void> {
  const page = meta('page') ?? '';
  if (page === 'login') {
    loginPage();
  } else {
    wireLogout();
    await PAGES[page]?.();
  }
  // Tests (and people) can tell the first load is done.
  document.body.dataset.loaded = page;
}

void main();
