/** The wizard's pages (markup only; page/*.ts makes them work). */
import { html, type SafeHtml } from '../assets/html.js';
import { STEP_FORMS, type FormContext } from './step-forms.js';
import { STEPS, type StepName } from './steps.js';

export type PageName = 'wallet' | StepName | 'summary' | 'progress';

/** Where each page lives under the wizard prefix. */
export const pagePath = (page: PageName) =>
  page === 'wallet' || page === 'summary' || page === 'progress' ? `/${page}` : `/step/${page}`;

const ORDER: readonly { page: PageName; title: string }[] = [
  { page: 'wallet', title: 'Admin wallet' },
  ...STEPS.map(({ name, title }) => ({ page: name as PageName, title })),
  { page: 'summary', title: 'Summary' },
];

export const titleOf = (page: PageName) => ORDER.find((o) => o.page === page)?.title ?? 'Progress';
export const nextPage = (page: PageName): PageName =>
  ORDER[ORDER.findIndex((o) => o.page === page) + 1]?.page ?? 'summary';
export const previousPage = (page: PageName): PageName | undefined =>
  ORDER[ORDER.findIndex((o) => o.page === page) - 1]?.page;

function stepBar(prefix: string, current: PageName): SafeHtml {
  return html`<nav aria-label="Setup steps">
    <ol class="row wizard-steps">
      ${ORDER.map(({ page, title }, index) =>
        page === current
          ? html`<li aria-current="step"><strong>${index + 1}. ${title}</strong></li>`
          : html`<li><a href="${prefix}${pagePath(page)}">${index + 1}. ${title}</a></li>`,
      )}
    </ol>
  </nav>`;
}

export function loginPage(): SafeHtml {
  return html` <h1>Set up this BlockHost server</h1>
    <section class="card" aria-labelledby="login-title">
      <h2 id="login-title">Sign in with the setup code</h2>
      <p class="hint">
        The code is shown on the server's console (6 characters; capitals or not, it does not matter).
      </p>
      <form id="login-form" novalidate>
        <label for="f-code">Setup code</label>
        <input
          id="f-code"
          name="code"
          autocomplete="one-time-code"
          autocapitalize="characters"
          spellcheck="false"
          maxlength="16"
          required
        />
        <button type="submit" id="login-submit">Sign in</button>
      </form>
      <div id="notice" role="alert" hidden></div>
    </section>`;
}

export function walletPage(
  prefix: string,
  wallet: { address: string; publicSecret: string } | undefined,
): SafeHtml {
  return html` ${stepBar(prefix, 'wallet')}
    <h1>Admin wallet</h1>
    <section class="card" aria-labelledby="wallet-title">
      <h2 id="wallet-title">Sign with the admin wallet</h2>
      <p class="hint">
        The admin wallet receives the admin credential NFT. Its signature of the message below proves you hold
        it and encrypts your configuration backups.
      </p>
      <form id="wallet-form" novalidate>
        <label for="f-publicSecret">Message to sign (the host's public secret)</label>
        <input
          id="f-publicSecret"
          name="publicSecret"
          value="${wallet?.publicSecret ?? 'blockhost-access'}"
          autocomplete="off"
        />
        <div class="row">
          <button type="button" id="wallet-connect">Connect wallet and sign</button>
        </div>
        <details>
          <summary>Or paste an address and a signature made elsewhere</summary>
          <label for="f-address">Address</label>
          <input
            id="f-address"
            name="address"
            value="${wallet?.address ?? ''}"
            placeholder="0x…"
            autocomplete="off"
          />
          <label for="f-signature">Signature</label>
          <input id="f-signature" name="signature" placeholder="0x…" autocomplete="off" />
          <button type="submit" id="wallet-submit" class="secondary">Use this signature</button>
        </details>
      </form>
      <div id="notice" role="alert" ${wallet ? '' : html`hidden`}>
        ${wallet ? html`<p class="notice ok">Signed by <span class="mono" id="wallet-address">${wallet.address}</span></p>` : ''}
      </div>
      <p>
        <a id="wallet-next" href="${prefix}${pagePath('network')}" ${wallet ? '' : html`hidden`}>Continue</a>
      </p>
    </section>
    <section class="card" aria-labelledby="import-title">
      <h2 id="import-title">Import a configuration backup</h2>
      <p class="hint">
        A backup made by this wallet fills in every step (nothing is applied). Sign above first, with the
        wallet that made it.
      </p>
      <label for="import-file">Backup file</label>
      <input type="file" id="import-file" accept="application/json,.json" />
      <button type="button" id="import-submit" class="secondary">Import</button>
      <div id="import-notice" role="status" hidden></div>
    </section>`;
}

export function stepPage(prefix: string, step: StepName, context: FormContext): SafeHtml {
  const back = previousPage(step);
  return html` ${stepBar(prefix, step)}
    <h1>${titleOf(step)}</h1>
    <form id="step-form" class="card" data-step="${step}" novalidate>
      ${STEP_FORMS[step](context)}
      <div id="notice" role="alert" hidden></div>
      <div class="row">
        ${back ? html`<a class="button secondary" id="back" href="${prefix}${pagePath(back)}">Back</a>` : ''}
        <button type="submit" id="save">Save and continue</button>
      </div>
    </form>`;
}

export interface SummaryRow {
  page: PageName;
  items: [string, string][];
}

export function summaryPage(
  prefix: string,
  rows: SummaryRow[],
  problems: { missing: string[]; fields: Record<string, string> },
  applied: boolean,
): SafeHtml {
  const ready = problems.missing.length === 0 && Object.keys(problems.fields).length === 0;
  return html` ${stepBar(prefix, 'summary')}
    <h1>Summary</h1>
    <p class="hint">Nothing has been changed on this server yet: applying writes the configuration below.</p>
    ${
      problems.missing.length
        ? html`<div class="notice warn" role="alert">
            Still to fill in:
            ${problems.missing.map((m) => html`<a href="${prefix}${pagePath(m as PageName)}">${titleOf(m as PageName)}</a> `)}
          </div>`
        : ''
    }
    ${
      Object.keys(problems.fields).length
        ? html`<div class="notice error" role="alert" id="summary-errors">
            <ul>
              ${Object.entries(problems.fields).map(([path, message]) => html`<li><span class="mono">${path}</span>: ${message}</li>`)}
            </ul>
          </div>`
        : ''
    }
    ${rows.map(
      ({ page, items }) =>
        html`<section class="card">
          <h2>${titleOf(page)}</h2>
          <dl class="details">
            ${items.map(
              ([k, v]) =>
                html`<dt>${k}</dt>
                  <dd class="mono">${v}</dd>`,
            )}
          </dl>
          <p><a href="${prefix}${pagePath(page)}" id="edit-${page}">Edit</a></p>
        </section>`,
    )}
    <section class="card">
      <div id="notice" role="alert" hidden></div>
      <div class="row">
        <button type="button" id="apply" ${ready ? '' : html`disabled`}>
          ${applied ? 'Apply again' : 'Apply configuration'}
        </button>
        <button type="button" id="export" class="secondary" ${ready ? '' : html`disabled`}>
          Download encrypted backup
        </button>
        ${applied ? html`<a href="${prefix}/progress">Setup progress</a>` : ''}
      </div>
    </section>`;
}

export function progressPage(prefix: string, dashboard: string): SafeHtml {
  return html` <h1>Setting up</h1>
    <div id="progress-message" class="notice info" role="status">Reading setup progress…</div>
    <section class="card" id="steps-card" aria-labelledby="steps-title">
      <h2 id="steps-title">Setup steps</h2>
      <ol id="progress-steps" class="progress-steps"></ol>
      <button type="button" id="retry" class="secondary" hidden>Retry now</button>
    </section>
    <section class="card" id="server-wallet" aria-labelledby="server-wallet-title" hidden>
      <h2 id="server-wallet-title">Server wallet</h2>
      <dl class="details">
        <dt>Address</dt>
        <dd class="mono" id="server-address"></dd>
        <dt>Balance</dt>
        <dd class="mono" id="server-balance"></dd>
      </dl>
      <p class="hint">
        The server wallet pays for deploying contracts and minting NFTs: send it some ETH if the steps above
        say it is short.
      </p>
    </section>
    <div id="done" class="notice ok" role="status" hidden>
      Setup is complete. <a href="${dashboard}">Open the admin dashboard</a>
    </div>
    <p><a href="${prefix}/summary" id="back-to-summary">Back to the summary</a></p>`;
}

export function closedPage(dashboard: string): SafeHtml {
  return html`<h1>Setup is complete</h1>
    <p class="notice ok" role="status">
      This server is set up; the setup wizard is closed. Manage it from the
      <a href="${dashboard}">admin dashboard</a>.
    </p>`;
}
