// Small DOM helpers for page scripts (no framework: pages are a few forms and lists).

/** The element with `id`, or a clear error naming the missing id (a markup/script mismatch). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`page is missing #${id}`);
  return element as T;
}

/** Value of `<meta name="bh-NAME">`, which the server renders (pages have no inline scripts). */
export function meta(name: string): string | undefined {
  return document.querySelector<HTMLMetaElement>(`meta[name="bh-${name}"]`)?.content;
}

export type NoticeKind = 'info' | 'ok' | 'warn' | 'error';

/**
 * Shows a message in a notice box (give it role="status" or role="alert" in the markup so screen
 * readers announce it). `detail` adds a second, smaller line.
 */
export function showNotice(element: HTMLElement, kind: NoticeKind, text: string, detail?: string): void {
  element.className = `notice ${kind}`;
  element.replaceChildren(document.createTextNode(text));
  if (detail) {
    const small = document.createElement('div');
    small.className = 'hint';
    small.textContent = detail;
    element.append(small);
  }
  element.hidden = false;
}

export function hideNotice(element: HTMLElement): void {
  element.hidden = true;
  element.replaceChildren();
}

/** Creates an element with text and attributes; text is always set as text, never as HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

/** Disables `button` while `work` runs, so a double click cannot send twice. */
export async function whileBusy<T>(button: HTMLButtonElement, work: () => Promise<T>): Promise<T> {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}
