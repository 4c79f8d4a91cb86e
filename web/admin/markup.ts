import { html, type SafeHtml } from '../assets/html.js';

/** The dashboard's pages: path under the prefix, navigation label, and the page's title. */
export const ADMIN_PAGES = [
  { id: 'overview', path: '/', label: 'Overview', title: 'Overview' },
  { id: 'vms', path: '/vms', label: 'VMs', title: 'Virtual machines' },
  { id: 'subscriptions', path: '/subscriptions', label: 'Subscriptions', title: 'Subscriptions' },
  { id: 'wallet', path: '/wallet', label: 'Wallet', title: 'Wallet' },
  { id: 'network', path: '/network', label: 'Network & security', title: 'Network and security' },
  { id: 'system', path: '/system', label: 'System', title: 'System' },
  { id: 'backup', path: '/backup', label: 'Backup', title: 'Configuration backup' },
] as const;

export type AdminPageId = (typeof ADMIN_PAGES)[number]['id'];

function nav(prefix: string, current: AdminPageId): SafeHtml {
  const links = ADMIN_PAGES.map(
    (page) =>
      html`<a
        href="${prefix}${page.path === '/' ? '/' : page.path}"
        ${page.id === current ? html`aria-current="page"` : ''}
        >${page.label}</a
      >`,
  );
  return html`<nav class="admin-nav" aria-label="Dashboard">
    ${links}
    <button type="button" id="logout" class="secondary">Sign out</button>
  </nav>`;
}

/** Export and import of the configuration (web/admin/backup.ts). */
const BACKUP_BODY = html`
  <section class="card" aria-labelledby="export-title">
    <h2 id="export-title">Export</h2>
    <p class="hint">
      The HostConfig and the Plans, encrypted with your wallet's signature of the public secret
      <span class="mono" id="backup-message"></span>: only this wallet can open the file. Secrets (server key,
      Proxmox token) are not included.
    </p>
    <button type="button" id="export">Sign and download backup</button>
  </section>
  <section class="card" aria-labelledby="import-title">
    <h2 id="import-title">Import</h2>
    <form id="import-form" novalidate>
      <label for="import-file">Backup file</label>
      <input type="file" id="import-file" name="backup" accept="application/json,.json" />
      <button type="submit" id="import-check">Sign and review</button>
    </form>
    <div id="import-review" hidden>
      <h3>Changes</h3>
      <div id="import-changes" class="table-scroll"></div>
      <dl class="details" id="import-plans"></dl>
      <div class="row">
        <button type="button" id="import-apply" class="danger">Apply this configuration</button>
        <button type="button" id="import-cancel" class="secondary">Cancel</button>
      </div>
    </div>
  </section>
`;

const BODIES: Record<AdminPageId, SafeHtml> = {
  overview: html`
    <section class="card" aria-labelledby="host-title">
      <h2 id="host-title">Host</h2>
      <dl class="details" id="host-details"></dl>
    </section>
    <section class="card" aria-labelledby="chain-title">
      <h2 id="chain-title">Chain</h2>
      <dl class="details" id="chain-details"></dl>
    </section>
    <section class="card" aria-labelledby="phases-title">
      <h2 id="phases-title">Subscriptions and VMs by phase</h2>
      <div class="row" id="phase-tables"></div>
    </section>
    <section class="card" aria-labelledby="revenue-title">
      <h2 id="revenue-title">Revenue</h2>
      <p class="hint">
        Sum of the payments recorded on-chain (SubscriptionCreated and SubscriptionExtended events of the
        subscriptions contract), before any revenue share.
      </p>
      <dl class="details" id="revenue-details"></dl>
    </section>
    <section class="card" aria-labelledby="charts-title">
      <h2 id="charts-title">Last 30 days</h2>
      <figure id="vm-chart" class="chart"></figure>
      <figure id="purchase-chart" class="chart"></figure>
    </section>
  `,
  vms: html`
    <section class="card" aria-labelledby="vms-title">
      <h2 id="vms-title">Virtual machines</h2>
      <div id="vm-table" class="table-scroll"></div>
    </section>
    <section class="card" id="confirm" aria-labelledby="confirm-title" hidden>
      <h2 id="confirm-title">Confirm</h2>
      <p id="confirm-text"></p>
      <form id="confirm-form" novalidate>
        <div id="confirm-typed" hidden>
          <label for="confirm-name">Type the VM name to confirm</label>
          <input id="confirm-name" name="confirm" autocomplete="off" spellcheck="false" />
        </div>
        <div class="row">
          <button type="submit" id="confirm-go">Confirm</button>
          <button type="button" id="confirm-cancel" class="secondary">Cancel</button>
        </div>
      </form>
    </section>
  `,
  subscriptions: html`
    <section class="card" aria-labelledby="subs-title">
      <h2 id="subs-title">Subscriptions</h2>
      <p class="hint">Mirrored from the chain by the chain watcher; read only.</p>
      <div id="subscription-table" class="table-scroll"></div>
    </section>
  `,
  wallet: html`
    <section class="card" aria-labelledby="balances-title">
      <h2 id="balances-title">Balances</h2>
      <div id="balances" class="table-scroll"></div>
    </section>
    <section class="card" aria-labelledby="withdraw-title">
      <h2 id="withdraw-title">Withdraw and send</h2>
      <p class="hint">
        Your wallet signs each request; the controller manager checks that you hold the admin NFT and sends it
        once from the server wallet. Requests expire after 10 minutes.
      </p>
      <form id="wallet-request-form" novalidate>
        <label for="wr-action">Action</label>
        <select id="wr-action" name="action">
          <option value="withdraw">
            Withdraw: move the subscriptions contract's whole balance of a token
          </option>
          <option value="send">Send: pay from the server wallet</option>
        </select>
        <label for="wr-token">Token (ERC-20 address, or ETH to send the native coin)</label>
        <input id="wr-token" name="token" autocomplete="off" spellcheck="false" list="wr-tokens" />
        <datalist id="wr-tokens"></datalist>
        <div id="wr-amount-field" hidden>
          <label for="wr-amount">Amount (in the token's units, e.g. 1.5)</label>
          <input id="wr-amount" name="amount" inputmode="decimal" autocomplete="off" />
        </div>
        <label for="wr-to">To</label>
        <input id="wr-to" name="to" autocomplete="off" spellcheck="false" />
        <button type="submit" id="wr-review">Review</button>
      </form>
      <div id="wr-confirm" hidden>
        <p>Your wallet will be asked to sign exactly this request:</p>
        <pre class="command" id="wr-message"></pre>
        <div class="row">
          <button type="button" id="wr-sign">Sign and submit</button>
          <button type="button" id="wr-cancel" class="secondary">Cancel</button>
        </div>
      </div>
      <div id="wr-notice" role="status" hidden></div>
    </section>
    <section class="card" aria-labelledby="requests-title">
      <h2 id="requests-title">Recent requests</h2>
      <div id="wallet-requests" class="table-scroll"></div>
    </section>
  `,
  network: html`
    <section class="card" aria-labelledby="net-title">
      <h2 id="net-title">Network</h2>
      <dl class="details" id="network-details"></dl>
    </section>
    <section class="card" aria-labelledby="sec-title">
      <h2 id="sec-title">Admin commands (port knocking)</h2>
      <form id="security-form" novalidate>
        <label class="choice" for="commands-enabled"
          ><input type="checkbox" id="commands-enabled" name="commands.enabled" /> Accept on-chain admin
          commands</label
        >
        <label for="commands-name">Command name (a secret)</label>
        <input id="commands-name" name="commands.commandName" autocomplete="off" spellcheck="false" />
        <label for="commands-ports">Ports a knock opens (comma separated)</label>
        <input id="commands-ports" name="commands.ports" inputmode="numeric" />
        <label for="commands-duration">Open for (seconds)</label>
        <input id="commands-duration" name="commands.durationSeconds" type="number" min="1" max="3600" />
        <label for="commands-age">Oldest command accepted (seconds)</label>
        <input id="commands-age" name="commands.maxCommandAgeSeconds" type="number" min="1" max="3600" />
        <button type="submit" id="security-save">Save</button>
      </form>
      <div id="security-notice" role="status" hidden></div>
    </section>
  `,
  system: html`
    <section class="card" aria-labelledby="name-title">
      <h2 id="name-title">Public name</h2>
      <dl class="details" id="name-details"></dl>
      <form id="hostname-form" novalidate>
        <label for="hostname">Host name</label>
        <input
          id="hostname"
          name="hostname"
          autocomplete="off"
          spellcheck="false"
          autocapitalize="none"
          placeholder="vms.example.com"
          aria-describedby="hostname-hint"
        />
        <p class="hint" id="hostname-hint">
          The name customers and admins reach this host by. The signup page's address and the machine in the
          login message follow it; point its DNS at this server first.
        </p>
        <button type="submit" id="hostname-save">Change host name</button>
      </form>
      <div id="hostname-notice" role="status" hidden></div>
    </section>
    <section class="card" aria-labelledby="nodes-title">
      <h2 id="nodes-title">Kubernetes node</h2>
      <div id="nodes"></div>
    </section>
    <section class="card" aria-labelledby="storage-title">
      <h2 id="storage-title">Storage</h2>
      <dl class="details" id="storage-details"></dl>
      <div id="storage-classes" class="table-scroll"></div>
    </section>
  `,
  backup: BACKUP_BODY,
};

/** One dashboard page: navigation, a notice area, and the page's sections (filled by its script). */
export function adminPage(prefix: string, id: AdminPageId, wallet: string): SafeHtml {
  const page = ADMIN_PAGES.find((p) => p.id === id)!;
  return html`
    ${nav(prefix, id)}
    <h1>${page.title}</h1>
    <p class="hint">Signed in as <span class="mono" id="admin-wallet">${wallet}</span></p>
    <div id="notice" role="alert" hidden></div>
    ${BODIES[id]}
  `;
}

export function loginPage(): SafeHtml {
  return html`
    <h1>Admin sign in</h1>
    <p class="hint">
      Only the wallet that holds this host's admin credential NFT can sign in. Your wallet is asked to sign a
      one-time code.
    </p>
    <section class="card" aria-labelledby="login-title">
      <h2 id="login-title">Sign in with your wallet</h2>
      <dl class="details" id="challenge" hidden>
        <dt>Code</dt>
        <dd id="challenge-code" class="mono"></dd>
        <dt>Machine</dt>
        <dd id="challenge-machine" class="mono"></dd>
      </dl>
      <button type="button" id="login">Connect wallet and sign in</button>
      <div id="login-notice" role="alert" hidden></div>
    </section>
    <section class="card" aria-labelledby="paste-title">
      <h2 id="paste-title">Sign in without a browser wallet</h2>
      <p class="hint">
        Get a one-time message, sign it with the admin wallet anywhere that does personal_sign (EIP-191), for
        example with Foundry's cast, and paste the signature here. The message is valid once, for 5 minutes.
      </p>
      <div id="paste-notice" role="alert" hidden></div>
      <button type="button" id="paste-challenge" class="secondary">Get a login message</button>
      <div id="paste-step" hidden>
        <p>Sign exactly this message:</p>
        <pre class="command" id="paste-message"></pre>
        <div class="row">
          <button type="button" id="copy-paste-message" class="secondary">Copy message</button>
          <span id="paste-copy-status" class="hint" role="status"></span>
        </div>
        <p class="hint">For example:</p>
        <pre class="command" id="paste-cast"></pre>
        <form id="paste-form" novalidate>
          <label for="paste-signature">Signature (0x and 130 hex digits)</label>
          <textarea
            id="paste-signature"
            name="signature"
            rows="3"
            autocomplete="off"
            spellcheck="false"
            required
          ></textarea>
          <button type="submit" id="paste-login">Sign in with this signature</button>
        </form>
      </div>
    </section>
  `;
}
