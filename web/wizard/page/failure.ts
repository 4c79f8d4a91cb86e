import { ApiError } from '../../shared/page/api.js';
import { showNotice } from '../../shared/page/dom.js';
import { showFieldErrors } from '../../shared/page/forms.js';
import { placeErrors } from './form.js';

/** Shows an API failure: field errors next to their fields, the rest in the notice. */
export function showFailure(form: HTMLFormElement | undefined, notice: HTMLElement, error: unknown): void {
  if (error instanceof ApiError && error.status === 410) {
    window.location.assign(window.location.pathname);
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (form && error instanceof ApiError && Object.keys(error.fields).length > 0) {
    const unplaced = showFieldErrors(form, placeErrors(form, error.fields));
    showNotice(notice, 'error', message, unplaced.join('; ') || undefined);
  } else showNotice(notice, 'error', message);
}
