// Static checks of every install script: shellcheck (bash, and POSIX sh for the one the installer's
// busybox runs), --help on each command, and systemd's own verification of the unit.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { installScripts, repoDir, run } from '../../harness/install/scripts.js';

const BASH_SCRIPTS = [
  'k3s/firstboot.sh',
  'k3s/blockhost-setup-code',
  'k3s/blockhost-bridge',
  'k3s/blockhost-host-facts',
  'k3s/blockhost-network-sync',
  'k3s/lib.sh',
  'iso/build.sh',
  'test/harness/install/fake-k3s',
  'test/harness/install/fake-host-tools',
  'test/harness/install/make-netinst.sh',
  'test/harness/install/make-payload.sh',
  // Not install scripts, but product build scripts held to the same standard.
  'images/guest/build-image.sh',
  'guest/pam-web3/build.sh',
  'guest/pam-web3/test.sh',
];
const POSIX_SCRIPTS = ['preseed/late-command.sh', 'test/harness/install/fake-install.sh'];

describe('install scripts', () => {
  it('pass shellcheck', async () => {
    const bash = await run('shellcheck', [
      '-x',
      '--severity=style',
      ...BASH_SCRIPTS.map((s) => join(repoDir, s)),
    ]);
    expect(bash.stdout + bash.stderr).toBe('');
    expect(bash.code).toBe(0);
    const posix = await run('shellcheck', [
      '-s',
      'sh',
      '--severity=style',
      ...POSIX_SCRIPTS.map((s) => join(repoDir, s)),
    ]);
    expect(posix.stdout + posix.stderr).toBe('');
    expect(posix.code).toBe(0);
  });

  it('use strict mode', async () => {
    for (const script of BASH_SCRIPTS.filter((s) => !s.endsWith('lib.sh')))
      expect([script, await readFile(join(repoDir, script), 'utf8')]).toEqual([
        script,
        expect.stringContaining('set -euo pipefail'),
      ]);
    for (const script of POSIX_SCRIPTS)
      expect([script, await readFile(join(repoDir, script), 'utf8')]).toEqual([
        script,
        expect.stringContaining('set -eu'),
      ]);
  });

  it('answer --help', async () => {
    for (const command of [
      installScripts.firstboot,
      installScripts.setupCode,
      installScripts.bridge,
      installScripts.hostFacts,
      installScripts.networkSync,
      installScripts.buildIso,
    ]) {
      const result = await run(command, ['--help'], { env: { BLOCKHOST_LOG_FILE: '/dev/null' } });
      expect([command, result.code, result.stdout]).toEqual([command, 0, expect.stringMatching(/^Usage: /)]);
    }
    const late = await run('sh', [installScripts.lateCommand, '--help']);
    expect([late.code, late.stdout]).toEqual([
      0,
      expect.stringContaining('Usage: late-command.sh SOURCE TARGET'),
    ]);
  });

  it('ship systemd units that systemd accepts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bh-unit-'));
    try {
      // The unit as installed, pointing at the script in this checkout (it lives in /opt on the server).
      const unit = (await readFile(installScripts.unit, 'utf8')).replace(
        '/opt/blockhost/k3s/firstboot.sh',
        installScripts.firstboot,
      );
      expect(unit).toContain('ConditionPathExists=!/var/lib/blockhost/firstboot/complete');
      expect(unit).toMatch(/^Type=oneshot$/m);
      expect(unit).toMatch(/^RemainAfterExit=yes$/m);
      expect(unit).toMatch(/^After=network-online.target$/m);
      await writeFile(join(dir, 'blockhost-firstboot.service'), unit);
      // The network sync: a oneshot service after first boot, started by a 30-second timer.
      const syncService = (await readFile(installScripts.networkSyncService, 'utf8')).replace(
        '/usr/local/sbin/blockhost-network-sync',
        installScripts.networkSync,
      );
      expect(syncService).toMatch(/^Type=oneshot$/m);
      expect(syncService).toContain('ConditionPathExists=/var/lib/blockhost/firstboot/complete');
      await writeFile(join(dir, 'blockhost-network-sync.service'), syncService);
      const timer = await readFile(installScripts.networkSyncTimer, 'utf8');
      expect(timer).toMatch(/^OnCalendar=\*-\*-\* \*:\*:00,30$/m);
      expect(timer).toMatch(/^WantedBy=timers.target$/m);
      await writeFile(join(dir, 'blockhost-network-sync.timer'), timer);
      const verify = await run('systemd-analyze', [
        'verify',
        join(dir, 'blockhost-firstboot.service'),
        join(dir, 'blockhost-network-sync.service'),
        join(dir, 'blockhost-network-sync.timer'),
      ]);
      expect([verify.code, verify.stderr]).toEqual([0, '']);
      const next = await run('systemd-analyze', ['calendar', '--iterations=2', '*-*-* *:*:00,30']);
      expect(next.code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
