// The System page's public name card: what the host is called, what follows the name (the signup
// page's address, the login message), and the form that changes it.
import { ApiError } from '../../shared/page/api.js';
import { byId, el, hideNotice, showNotice, whileBusy } from '../../shared/page/dom.js';
import { clearFieldErrors, showFieldErrors } from '../../shared/page/forms.js';
import type { publicNameOf } from '../hostname.js';
import { adminApi, fillDetails } from './common.js';

type PublicName = ReturnType<typeof publicNameOf>;

const mono = (text: string) => el('span', { class: 'mono' }, text);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function showName(name: PublicName): void {
  fillDetails(byId('name-details'), [
    ['Host name', name.hostname ? mono(name.hostname) : 'Not set: the node address is used'],
    ['Signup page', name.signupUrl ? mono(name.signupUrl) : 'Not published yet (setup publishes it)'],
    ['Login machine', mono(name.machine)],
    ...(name.url
      ? [
          [
            'Fixed signup URL',
            `spec.signup.url is ${name.url}: the signup page stays there whatever the host name.`,
          ] as [string, string],
        ]
      : []),
  ]);
}

/** Whether setup has republished the signup URL for the new name (or never will: a fixed URL). */
const followed = (name: PublicName, hostname: string) =>
  name.url !== undefined || (name.signupUrl !== undefined && new URL(name.signupUrl).hostname === hostname);

export function wireHostname(initial: PublicName): void {
  let generation = initial.generation ?? 0;
  const form = byId<HTMLFormElement>('hostname-form');
  const input = byId<HTMLInputElement>('hostname');
  const notice = byId('hostname-notice');
  showName(initial);
  input.value = initial.hostname ?? '';
  const save = byId<HTMLButtonElement>('hostname-save');
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void whileBusy(save, async () => {
      clearFieldErrors(form);
      try {
        const saved = await adminApi<PublicName & { changed: boolean }>('/api/system/hostname', {
          method: 'POST',
          body: { hostname: input.value, generation },
        });
        generation = saved.generation ?? generation;
        input.value = saved.hostname ?? '';
        showName(saved);
        if (!saved.changed) {
          showNotice(notice, 'info', `The host name already is ${saved.hostname}.`);
          return;
        }
        showNotice(
          notice,
          'ok',
          `Saved. Login messages now name ${saved.machine}.`,
          saved.url ? undefined : 'Waiting for setup to publish the signup page under the new name…',
        );
        // The HostConfig controller republishes status.signupUrl within seconds; show it when it has.
        let latest: PublicName = saved;
        for (let tries = 0; tries < 30 && !followed(latest, saved.hostname!); tries += 1) {
          await sleep(1_000);
          latest = (await adminApi<{ publicName: PublicName }>('/api/system')).publicName;
        }
        showName(latest);
        if (followed(latest, saved.hostname!))
          showNotice(
            notice,
            'ok',
            `Saved. Login messages now name ${latest.machine}; the signup page is at ${latest.signupUrl}.`,
          );
      } catch (error) {
        if (error instanceof ApiError && Object.keys(error.fields).length) {
          // The message goes under the field; the notice only for what fits no field.
          const unplaced = showFieldErrors(form, error.fields);
          if (unplaced.length) showNotice(notice, 'error', error.message, unplaced.join(' '));
          else hideNotice(notice);
        } else if (!(error instanceof ApiError && (error.status === 401 || error.status === 403)))
          showNotice(notice, 'error', error instanceof Error ? error.message : String(error));
      }
    });
  });
}
