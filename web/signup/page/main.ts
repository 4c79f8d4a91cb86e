// Signup page entry: load the host's config and plans, connect the wallet, then buy, follow,
// decrypt and extend (the parts live in the modules next to this one).
import { api, facePath } from '../../shared/page/api.js';
import { wireCopyButton } from '../../shared/page/copy.js';
import { byId, el, hideNotice, showNotice, whileBusy } from '../../shared/page/dom.js';
import {
  connect,
  injectedProvider,
  onWalletChange,
  switchChain,
  walletChainId,
  wrongNetwork,
  type Eip1193Provider,
} from '../../shared/page/wallet.js';
import type { SignupConfig } from '../host-config.js';
import { follow, pendingPurchase, renderPlanChoices, wireBuyForm } from './buy.js';
import { SignupChain } from './chain.js';
import { explain, fail, type SignupPage } from './context.js';
import { wireExtendForm } from './extend.js';
import { formatCents } from './format.js';
import { renderMine } from './mine.js';
import { wireOfflineDecrypt } from './offline.js';

function renderPlans(page: SignupPage): void {
  const status = byId('plans-status');
  if (page.plans.length === 0) {
    status.textContent = 'No plans are on sale right now. Please come back later.';
    return;
  }
  status.textContent = `Prices in US dollars, paid in ${page.coin.symbol}.`;
  status.after(
    el(
      'ul',
      { id: 'plan-list' },
      ...page.plans.map((plan) => el('li', {}, `${plan.name}: ${formatCents(plan.centsPerDay)} per day`)),
    ),
  );
}

/** Shows what the wallet allows: the forms on the right network, the switch button on another. */
async function checkWallet(
  page: SignupPage,
  provider: Eip1193Provider,
  account: `0x${string}`,
): Promise<void> {
  const networkNotice = byId('network-notice');
  const switchButton = byId('switch-network');
  byId('account').textContent = `Connected: ${account}`;
  byId('account').hidden = false;
  byId('connect').hidden = true;
  const chainId = await walletChainId(provider);
  const onChain = chainId === page.config.chainId;
  for (const id of ['buy', 'extend']) byId(id).hidden = !onChain;
  switchButton.hidden = onChain;
  if (!onChain) {
    page.wallet = undefined;
    showNotice(networkNotice, 'error', wrongNetwork(chainId, page.config.chainId).message);
    return;
  }
  hideNotice(networkNotice);
  page.wallet = { provider, account };
  await page.refreshMine();
}

async function start(): Promise<void> {
  const notice = byId('notice');
  let config: SignupConfig;
  try {
    config = await api<SignupConfig>(facePath('/api/signup/config'));
  } catch (error) {
    showNotice(notice, 'error', explain(error));
    byId('plans-status').textContent = 'Plans cannot be shown right now.';
    byId<HTMLButtonElement>('connect').disabled = true;
    return;
  }
  // The server's RPC proxy is a path; viem and wallets want absolute URLs.
  config = { ...config, rpcUrls: config.rpcUrls.map((url) => new URL(url, location.href).href) };
  if (config.hostname) byId('host-line').textContent = `VMs on ${config.hostname}, paid from your wallet.`;
  const chain = new SignupChain(config);
  wireOfflineDecrypt({ config, chain });
  const [plans, coin] = await Promise.all([chain.plans(), chain.stablecoin()]);
  const page: SignupPage = {
    config,
    chain,
    plans,
    coin,
    refreshMine: () => renderMine(page).catch((error: unknown) => fail('notice', error)),
  };
  renderPlans(page);
  renderPlanChoices(page);
  wireBuyForm(page);
  wireExtendForm(page);
  wireCopyButton('copy-ssh', 'ssh-command', 'copy-status');

  let provider: Eip1193Provider | undefined;
  let account: `0x${string}` | undefined;
  const recheck = () => {
    if (provider && account)
      checkWallet(page, provider, account).catch((error: unknown) => fail('notice', error));
  };
  const connectButton = byId<HTMLButtonElement>('connect');
  connectButton.addEventListener('click', () => {
    void whileBusy(connectButton, async () => {
      try {
        hideNotice(notice);
        provider = injectedProvider();
        account = await connect(provider);
        onWalletChange(provider, () => {
          // A new account: ask the wallet which one, then re-check everything.
          void provider!
            .request({ method: 'eth_accounts' })
            .then((accounts) => {
              const [next] = Array.isArray(accounts) ? accounts : [];
              if (typeof next === 'string') account = next as `0x${string}`;
              recheck();
            })
            .catch((error: unknown) => fail('notice', error));
        });
        await checkWallet(page, provider, account);
      } catch (error) {
        fail('notice', error);
      }
    });
  });
  // Disabled in the markup: a click before the plans loaded and this was wired would do nothing.
  connectButton.disabled = false;
  const switchButton = byId<HTMLButtonElement>('switch-network');
  switchButton.addEventListener('click', () => {
    void whileBusy(switchButton, async () => {
      try {
        await switchChain(provider!, {
          chainId: config.chainId,
          chainName: config.hostname ? `${config.hostname} chain` : `Chain ${config.chainId}`,
          rpcUrls: config.rpcUrls,
        });
        recheck();
      } catch (error) {
        showNotice(byId('network-notice'), 'error', explain(error));
      }
    });
  });

  const pending = pendingPurchase();
  if (pending !== undefined) {
    showNotice(
      notice,
      'info',
      `A purchase is still in progress (subscription #${pending}). Its progress is shown below; connect your wallet to see its connection details when it is ready.`,
    );
    void follow(page, pending).catch((error: unknown) => fail('progress-notice', error));
  }
}

start().catch((error: unknown) => fail('notice', error));
