import { SHARED_STYLES, type Bundle } from './bundler.js';

const escapes: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text made safe for HTML element content and quoted attribute values. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => escapes[c]!);

/** Markup that `html` inserts as it is (already escaped or built by `html`). */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Tagged template that escapes every interpolated value unless it is SafeHtml (or a list of them). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, i) => {
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) out += item instanceof SafeHtml ? item.value : escapeHtml(String(item ?? ''));
    out += strings[i + 1]!;
  });
  return new SafeHtml(out);
}

export interface PageOptions {
  title: string;
  /** Browser entries (names declared in the face's `entries`) loaded as module scripts. */
  scripts: readonly string[];
  /** Values pages read with `meta(name)` (web/shared/page/dom.ts), e.g. the CSRF token: no inline script needed. */
  meta?: Record<string, string>;
  /** The page's markup inside <main>. */
  body: SafeHtml;
  /** Shown in the header next to the product name. */
  heading?: string;
}

/** A complete HTML document: shared stylesheet, the page's scripts, its data as meta tags. */
export function renderPage(
  bundle: Bundle,
  { title, scripts, meta = {}, body, heading }: PageOptions,
): string {
  const metaTags = Object.entries(meta).map(
    ([name, content]) => html`<meta name="bh-${name}" content="${content}" />`,
  );
  const scriptTags = scripts.map((name) => html`<script type="module" src="${bundle.url(name)}"></script>`);
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title}</title>
        <link rel="stylesheet" href="${bundle.url(SHARED_STYLES)}" />
        ${metaTags} ${scriptTags}
      </head>
      <body>
        <header class="site-header">
          <span class="brand">BlockHost</span
          >${heading ? html` <span class="site-title">${heading}</span>` : ''}
        </header>
        <main id="main">${body}</main>
      </body>
    </html> `.value;
}
