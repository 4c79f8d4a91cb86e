import { describe, expect, it } from '@jest/globals';
import { exampleHostConfig, examplePlan } from '../api/v1alpha1/examples.js';
import { decryptWithSignature, signMessage } from '../crypto/index.js';
import { utf8Decode } from '../crypto/utf8.js';
import type { ConfigBackupError } from './index.js';
import { createBackup, openBackup, parseBackupEnvelope, type BackupPayloadInput } from './index.js';

// Well-known anvil test keys (accounts 1 and 2).
const ADMIN_KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
const OTHER_KEY = '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a';
const ADMIN = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const SECRET = 'blockhost-access';
const signature = signMessage(ADMIN_KEY, SECRET);
const admin = { wallet: ADMIN, signature, publicSecret: SECRET };

const payload = {
  hostConfig: {
    ...exampleHostConfig.spec,
    admin: { ...exampleHostConfig.spec.admin, wallet: ADMIN, signature },
  },
  plans: [{ name: 'basic-vm', spec: examplePlan.spec }],
} as BackupPayloadInput;

const failure = (action: () => unknown) => {
  try {
    action();
  } catch (error) {
    return error as ConfigBackupError;
  }
  throw new Error('expected a failure');
};

describe('config backups', () => {
  it('round-trips through the INTEROP §2 signature-keyed AES-GCM blob', () => {
    const backup = createBackup(payload, admin, new Date('2026-01-02T03:04:05Z'));
    expect(backup).toMatchObject({
      format: 'blockhost-config-backup',
      version: 1,
      wallet: ADMIN,
      publicSecret: SECRET,
    });
    expect(backup.createdAt).toBe('2026-01-02T03:04:05.000Z');
    expect(JSON.stringify(backup)).not.toContain('192.168.122');
    // Any INTEROP implementation opens it: keccak256(signature) as the AES-256-GCM key, nonce first.
    const plain = JSON.parse(
      utf8Decode(decryptWithSignature(signature, backup.ciphertext)),
    ) as typeof payload;
    expect(plain.plans[0]!.name).toBe('basic-vm');
    const opened = openBackup(JSON.parse(JSON.stringify(backup)), signature);
    expect(opened.hostConfig.ipv4Pool).toEqual(exampleHostConfig.spec.ipv4Pool);
    expect(opened.plans).toHaveLength(1);
  });

  it("refuses another wallet's signature before trying to decrypt, naming the right wallet", () => {
    const backup = createBackup(payload, admin);
    const error = failure(() => openBackup(backup, signMessage(OTHER_KEY, SECRET)));
    expect(error.code).toBe('WRONG_SIGNATURE');
    expect(error.message).toContain(ADMIN);
    expect(
      failure(() => createBackup(payload, { ...admin, signature: signMessage(OTHER_KEY, SECRET) })).code,
    ).toBe('WRONG_SIGNATURE');
  });

  it('refuses a tampered ciphertext and files that are not backups', () => {
    const backup = createBackup(payload, admin);
    const last = backup.ciphertext.at(-1) === '0' ? '1' : '0';
    const tampered = { ...backup, ciphertext: backup.ciphertext.slice(0, -1) + last };
    expect(failure(() => openBackup(tampered, signature)).code).toBe('DECRYPTION_FAILED');
    expect(failure(() => parseBackupEnvelope({ ...backup, version: 2 })).code).toBe('INVALID_BACKUP');
    expect(failure(() => parseBackupEnvelope('not json')).code).toBe('INVALID_BACKUP');
    expect(failure(() => parseBackupEnvelope({ ...backup, ciphertext: '0xzz' })).fields).toHaveProperty(
      'ciphertext',
    );
  });

  it('validates the payload on both ends with the CRD schemas', () => {
    const invalid = structuredClone(payload) as { hostConfig: { ipv4Pool: { gateway: string } } };
    invalid.hostConfig.ipv4Pool.gateway = '10.0.0.1';
    const error = failure(() => createBackup(invalid as BackupPayloadInput, admin));
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.fields).toHaveProperty(['hostConfig.ipv4Pool.gateway']);
    const duplicate = { ...payload, plans: [payload.plans[0]!, payload.plans[0]!] };
    expect(failure(() => createBackup(duplicate, admin)).fields).toHaveProperty(['plans.1.name']);
  });
});
