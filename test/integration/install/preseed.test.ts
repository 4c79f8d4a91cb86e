// The preseed: Debian's own parser accepts it, every line is "owner question type value", and the
// answers an unattended install depends on are there.
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { installScripts, run } from '../../harness/install/scripts.js';

interface Answer {
  owner: string;
  question: string;
  type: string;
  value: string;
}

const TYPES = ['string', 'boolean', 'select', 'multiselect', 'password', 'note', 'text', 'title', 'error'];

/** debconf's format: comments, blank lines, and answers whose value may continue after a backslash. */
function parsePreseed(text: string): Answer[] {
  const lines = text.replace(/\\\n/g, '').split('\n');
  return lines
    .filter((line) => line.trim() !== '' && !line.trimStart().startsWith('#'))
    .map((line) => {
      const match = /^(\S+)\s+(\S+)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!match) throw new Error(`not "owner question type value": ${line}`);
      const [, owner = '', question = '', type = '', value = ''] = match;
      return { owner, question, type, value };
    });
}

describe('preseed/blockhost.preseed', () => {
  let text: string;
  let answers: Answer[];
  const answer = (question: string): Answer => {
    const found = answers.filter((a) => a.question === question);
    if (found.length !== 1 || !found[0])
      throw new Error(`expected one answer to ${question}, found ${found.length}`);
    return found[0];
  };

  beforeAll(async () => {
    text = await readFile(installScripts.preseed, 'utf8');
    answers = parsePreseed(text);
  });

  it('is accepted by debconf-set-selections without a warning', async () => {
    const result = await run('debconf-set-selections', ['--checkonly', installScripts.preseed]);
    expect([result.code, result.stderr]).toEqual([0, '']);
  });

  it('has well-formed answers, each question once', () => {
    expect(answers.length).toBeGreaterThan(40);
    for (const a of answers) {
      expect(TYPES).toContain(a.type);
      expect(a.question).toMatch(/^[a-z0-9-]+\/[a-z0-9_/-]+$/);
      if (a.type === 'boolean') expect(['true', 'false']).toContain(a.value);
    }
    const questions = answers.map((a) => a.question);
    expect(new Set(questions).size).toBe(questions.length);
  });

  it('installs unattended but for the disk: locale, keyboard, DHCP, mirror, LVM on the whole disk', () => {
    const expected: Record<string, string> = {
      'debian-installer/locale': 'en_US.UTF-8',
      'keyboard-configuration/xkb-keymap': 'us',
      'netcfg/choose_interface': 'auto',
      'mirror/http/hostname': 'deb.debian.org',
      'mirror/http/directory': '/debian',
      'partman-auto/method': 'lvm',
      'partman-auto-lvm/guided_size': 'max',
      'partman-lvm/device_remove_lvm': 'true',
      'partman-lvm/confirm': 'true',
      'partman-lvm/confirm_nooverwrite': 'true',
      'partman-partitioning/confirm_write_new_label': 'true',
      'partman/choose_partition': 'finish',
      'partman/confirm': 'true',
      'partman/confirm_nooverwrite': 'true',
      'grub-installer/bootdev': 'default',
      'passwd/root-login': 'false',
      'passwd/username': 'blockhost',
    };
    for (const [question, value] of Object.entries(expected))
      expect([question, answer(question).value]).toEqual([question, value]);
    // The one question: erase-disk-confirm.sh (test/integration/install/erase-disk-confirm.test.ts).
    expect(answer('partman/early_command').value).toBe(
      'sh /cdrom/blockhost/erase-disk-confirm.sh /cdrom/blockhost',
    );
    expect(answer('finish-install/reboot_in_progress').type).toBe('note');
  });

  it('installs the packages first boot and the VM backends need', () => {
    const packages = answer('pkgsel/include').value.split(/\s+/);
    for (const name of [
      'ca-certificates',
      'openssh-server',
      'iproute2',
      'iputils-ping',
      'jq',
      'bridge-utils',
      'ifupdown',
      'nftables',
      'iptables',
      'qemu-guest-agent',
      'libvirt-daemon-system',
      'qemu-system-x86',
    ])
      expect(packages).toContain(name);
  });

  it('copies the payload and enables the first-boot unit in its late command', () => {
    const late = answer('preseed/late_command').value;
    expect(late).toContain('sh /cdrom/blockhost/late-command.sh /cdrom/blockhost /target');
    expect(late).toContain('in-target systemctl enable blockhost-firstboot.service');
  });

  it('holds no password: the only password answer is the locked placeholder build.sh replaces', () => {
    const passwords = answers.filter((a) => a.type === 'password');
    expect(passwords).toEqual([
      { owner: 'd-i', question: 'passwd/user-password-crypted', type: 'password', value: '!' },
    ]);
    expect(text).not.toMatch(/root-password/);
  });
});
