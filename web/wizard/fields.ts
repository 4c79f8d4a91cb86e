/**
 * Form controls named after the spec's field paths (`ipv4Pool.gateway`), pre-filled from the
 * session so going back keeps what was entered. `data-kind` tells the page how to read a value
 * (int, number, bool, list, list-int); `data-when="path=value"` sections are disabled (and so not
 * sent) unless the control at `path` has that value.
 */
import { html, type SafeHtml } from '../assets/html.js';

export type Values = unknown;
export type Kind = 'text' | 'int' | 'number' | 'bool' | 'list' | 'list-int';

export const fieldId = (path: string) => `f-${path.replace(/[^A-Za-z0-9_-]/g, '-')}`;

export function valueAt(values: Values, path: string): unknown {
  let current = values;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

const text = (value: unknown, kind: Kind) =>
  value === undefined || value === null
    ? ''
    : Array.isArray(value)
      ? value.join(kind === 'list' ? '\n' : ', ')
      : String(value);

interface InputOptions {
  kind?: Kind;
  hint?: string;
  placeholder?: string;
  type?: 'text' | 'password' | 'url';
  fallback?: unknown;
  multiline?: boolean;
}

export function input(values: Values, path: string, label: string, options: InputOptions = {}): SafeHtml {
  const { kind = 'text', hint, placeholder = '', type = 'text', fallback, multiline } = options;
  const id = fieldId(path);
  const value = type === 'password' ? '' : text(valueAt(values, path) ?? fallback, kind);
  const numeric = kind === 'int' || kind === 'number';
  const hintHtml = hint ? html`<p class="hint" id="${id}-hint">${hint}</p>` : '';
  const described = hint ? `${id}-hint` : '';
  const control = multiline
    ? html`<textarea
        id="${id}"
        name="${path}"
        data-kind="${kind}"
        rows="3"
        placeholder="${placeholder}"
        aria-describedby="${described}"
      >
${value}</textarea>`
    : html`<input
        id="${id}"
        name="${path}"
        data-kind="${kind}"
        type="${type}"
        value="${value}"
        placeholder="${placeholder}"
        ${numeric ? html`inputmode="${kind === 'int' ? 'numeric' : 'decimal'}"` : ''}
        autocomplete="off"
        aria-describedby="${described}"
      />`;
  return html`<label for="${id}">${label}</label>${control}${hintHtml}`;
}

export function select(
  values: Values,
  path: string,
  label: string,
  options: readonly (readonly [string, string])[],
  fallback?: string,
): SafeHtml {
  const id = fieldId(path);
  const current = String(valueAt(values, path) ?? fallback ?? '');
  return html`<label for="${id}">${label}</label>
    <select id="${id}" name="${path}" data-kind="text">
      ${options.map(([value, text]) => html`<option value="${value}" ${value === current ? html`selected` : ''}>${text}</option>`)}
    </select>`;
}

export function radios(
  values: Values,
  path: string,
  legend: string,
  options: readonly (readonly [string, string])[],
  { fallback, kind = 'text' }: { fallback?: string; kind?: Kind } = {},
): SafeHtml {
  const current = String(valueAt(values, path) ?? fallback ?? options[0]![0]);
  return html`<fieldset class="choices">
    <legend>${legend}</legend>
    ${options.map(
      ([value, text]) =>
        html`<label class="choice" for="${fieldId(`${path}-${value}`)}"
          ><input
            type="radio"
            id="${fieldId(`${path}-${value}`)}"
            name="${path}"
            value="${value}"
            data-kind="${kind}"
            ${value === current ? html`checked` : ''}
          />${text}</label
        >`,
    )}
  </fieldset>`;
}

export function checkbox(values: Values, path: string, label: string, fallback = false): SafeHtml {
  const id = fieldId(path);
  const checked = (valueAt(values, path) ?? fallback) === true;
  return html`<label class="choice" for="${id}"
    ><input
      type="checkbox"
      id="${id}"
      name="${path}"
      data-kind="bool"
      ${checked ? html`checked` : ''}
    />${label}</label
  >`;
}

/** A section that only counts while the control at `path` has `value`. */
export function when(condition: string, ...content: SafeHtml[]): SafeHtml {
  // A div, not a fieldset: the shared showFieldErrors puts messages after a field's fieldset.
  return html`<div class="when" data-when="${condition}">${content}</div>`;
}

/** Repeated rows (`plans.0.…`, `plans.1.…`); the page adds and removes rows. */
export function repeat(path: string, itemLabel: string, rows: SafeHtml[]): SafeHtml {
  return html`<div class="repeat" data-repeat="${path}">
      ${rows.map(
        (row, index) =>
          html`<div class="card" data-index="${index}">
            <h3 class="legend">${itemLabel} ${index + 1}</h3>
            ${row}<button type="button" class="secondary" data-remove>Remove</button>
          </div>`,
      )}
    </div>
    <button type="button" class="secondary" data-add="${path}">Add ${itemLabel.toLowerCase()}</button>`;
}
