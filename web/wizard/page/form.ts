// Reads a wizard form into the step's JSON shape (names are dotted spec paths), keeps data-when
// sections in step with their controls, and grows/shrinks repeated rows.

type Json = Record<string, unknown>;

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

const controls = (form: HTMLElement) =>
  Array.from(form.querySelectorAll<Control>('input[name], select[name], textarea[name]')).filter(
    (c) => !c.hasAttribute('data-ignore'),
  );

function read(control: Control): unknown {
  const kind = control.dataset.kind ?? 'text';
  if (control instanceof HTMLInputElement && control.type === 'checkbox') return control.checked;
  const raw = control.value.trim();
  if (raw === '') return undefined;
  switch (kind) {
    case 'int':
    case 'number':
      // Not a number stays text, so the schema reports it ("expected number") next to the field.
      return /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
    case 'bool':
      return raw === 'true';
    case 'list':
      return raw.split(/[\s,]+/).filter(Boolean);
    case 'list-int':
      return raw
        .split(/[\s,]+/)
        .filter(Boolean)
        .map((item) => (/^\d+$/.test(item) ? Number(item) : item));
    default:
      return raw;
  }
}

function setPath(target: Json, path: string, value: unknown): void {
  const keys = path.split('.');
  let current: Record<string, unknown> | unknown[] = target;
  keys.forEach((key, index) => {
    const last = index === keys.length - 1;
    const slot = current as Record<string, unknown>;
    if (last) {
      slot[key] = value;
      return;
    }
    slot[key] ??= /^\d+$/.test(keys[index + 1]!) ? [] : {};
    current = slot[key] as Record<string, unknown>;
  });
}

/** Empty objects and array holes left by blank optional fields are dropped, as if never sent. */
function prune(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => v !== undefined).map(prune);
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const [key, child] of Object.entries(value)) {
      const pruned = prune(child);
      if (pruned === undefined) continue;
      if (pruned && typeof pruned === 'object' && !Array.isArray(pruned) && Object.keys(pruned).length === 0)
        continue;
      out[key] = pruned;
    }
    return out;
  }
  return value;
}

/** The form's value: enabled controls only (a disabled data-when section is not sent). */
export function collect(form: HTMLFormElement): Json {
  const out: Json = {};
  for (const control of controls(form)) {
    if (control.matches(':disabled')) continue;
    if (control instanceof HTMLInputElement && control.type === 'radio' && !control.checked) continue;
    const value = read(control);
    if (value !== undefined) setPath(out, control.name, value);
  }
  return prune(out) as Json;
}

/**
 * Error paths are spec paths; some name a list item (`chain.rpcEndpoints.0`) or an object
 * (`chain.contracts`) the form shows as one input or several: move each to the nearest input.
 */
export function placeErrors(form: HTMLFormElement, fields: Record<string, string>): Record<string, string> {
  const names = new Set(controls(form).map((c) => c.name));
  const placed: Record<string, string> = {};
  for (const [path, message] of Object.entries(fields)) {
    let target: string | undefined;
    for (let keys = path.split('.'); keys.length > 0 && !target; keys = keys.slice(0, -1)) {
      const candidate = keys.join('.');
      if (names.has(candidate)) target = candidate;
      else target = [...names].find((name) => name.startsWith(`${candidate}.`));
    }
    const key = target ?? path;
    placed[key] = placed[key] ? `${placed[key]}; ${message}` : message;
  }
  return placed;
}

function controlValue(form: HTMLFormElement, path: string): string {
  const matching = controls(form).filter((c) => c.name === path);
  for (const control of matching) {
    if (control instanceof HTMLInputElement && control.type === 'checkbox') return String(control.checked);
    if (control instanceof HTMLInputElement && control.type === 'radio') {
      if (control.checked) return control.value;
      continue;
    }
    return control.value;
  }
  return '';
}

/** Shows each `data-when="path=value"` section only while it applies; controls in a hidden one are disabled (not sent). */
export function syncSections(form: HTMLFormElement): void {
  const sections = Array.from(form.querySelectorAll<HTMLElement>('[data-when]'));
  for (const section of sections) {
    const [path, expected] = section.dataset.when!.split('=') as [string, string];
    section.hidden = controlValue(form, path) !== expected;
  }
  for (const control of controls(form)) control.disabled = control.closest('[data-when][hidden]') !== null;
  for (const input of Array.from(form.querySelectorAll<HTMLInputElement>('input[data-ignore]')))
    input.disabled = input.closest('[data-when][hidden]') !== null;
}

function renumber(list: HTMLElement, path: string): void {
  Array.from(list.children).forEach((row, index) => {
    const item = row as HTMLElement;
    item.dataset.index = String(index);
    const legend = item.querySelector('.legend');
    if (legend) legend.textContent = legend.textContent!.replace(/\d+$/, String(index + 1));
    const namePattern = new RegExp(`^${path.replace(/\./g, '\\.')}\\.\\d+\\.`);
    const idPrefix = `f-${path.replace(/[^A-Za-z0-9_-]/g, '-')}-`;
    const idPattern = new RegExp(`^${idPrefix}\\d+-`);
    for (const element of Array.from(item.querySelectorAll<HTMLElement>('[name], [id], label[for]'))) {
      const name = element.getAttribute('name');
      if (name) element.setAttribute('name', name.replace(namePattern, `${path}.${index}.`));
      for (const attribute of ['id', 'for', 'aria-describedby']) {
        const value = element.getAttribute(attribute);
        if (value)
          element.setAttribute(
            attribute,
            value
              .split(' ')
              .map((v) => v.replace(idPattern, `${idPrefix}${index}-`))
              .join(' '),
          );
      }
    }
  });
}

/** Add/Remove buttons of repeated rows (plans, revenue recipients). */
export function wireRepeats(form: HTMLFormElement): void {
  form.addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest('button');
    if (!button) return;
    if (button.dataset.add !== undefined) {
      const path = button.dataset.add;
      const list = form.querySelector<HTMLElement>(`[data-repeat="${CSS.escape(path)}"]`)!;
      const last = list.lastElementChild as HTMLElement;
      const copy = last.cloneNode(true) as HTMLElement;
      for (const note of Array.from(copy.querySelectorAll('.field-error'))) note.remove();
      list.append(copy);
      renumber(list, path);
    } else if (button.hasAttribute('data-remove')) {
      const row = button.closest<HTMLElement>('[data-index]')!;
      const list = row.parentElement!;
      if (list.children.length <= 1) return;
      row.remove();
      renumber(list, list.dataset.repeat!);
    }
  });
}
