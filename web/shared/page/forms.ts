// Field errors next to the fields: the server's `fields` map (dotted paths) or the page's own checks.

const ERROR_CLASS = 'field-error';

/** Removes every error message a previous showFieldErrors put into `form`. */
export function clearFieldErrors(form: HTMLFormElement): void {
  for (const message of Array.from(form.querySelectorAll(`.${ERROR_CLASS}`))) message.remove();
  for (const field of Array.from(form.querySelectorAll('[aria-invalid="true"]'))) {
    field.removeAttribute('aria-invalid');
    const described = (field.getAttribute('aria-describedby') ?? '')
      .split(' ')
      .filter((id: string) => id && !id.endsWith('-error'));
    if (described.length) field.setAttribute('aria-describedby', described.join(' '));
    else field.removeAttribute('aria-describedby');
  }
}

/**
 * Shows each message under the field whose `name` is its path (`days`, `plans.0.price`); messages
 * for fields the form does not have are returned, for a notice. Focuses the first invalid field.
 */
export function showFieldErrors(form: HTMLFormElement, fields: Record<string, string>): string[] {
  clearFieldErrors(form);
  const unplaced: string[] = [];
  let first: HTMLElement | undefined;
  for (const [path, message] of Object.entries(fields)) {
    const field = form.querySelector<HTMLElement>(`[name="${CSS.escape(path)}"]`);
    if (!field) {
      unplaced.push(path ? `${path}: ${message}` : message);
      continue;
    }
    const id = `${field.id || path.replace(/[^A-Za-z0-9_-]/g, '-')}-error`;
    const note = document.createElement('div');
    note.className = ERROR_CLASS;
    note.id = id;
    note.textContent = message;
    // Radio groups: after the group's container, not inside one option's label.
    const anchor = field.closest('fieldset, .choices') ?? field;
    anchor.after(note);
    for (const same of Array.from(form.querySelectorAll<HTMLElement>(`[name="${CSS.escape(path)}"]`))) {
      same.setAttribute('aria-invalid', 'true');
      const described = same.getAttribute('aria-describedby');
      same.setAttribute('aria-describedby', described ? `${described} ${id}` : id);
    }
    first ??= field;
  }
  first?.focus();
  return unplaced;
}
