/**
 * Configuration backups (INTEROP §2): the HostConfig spec and Plans as JSON, encrypted with the
 * admin's EIP-191 signature of the public secret — only the admin wallet can re-create the key.
 * Shared by the setup wizard and the admin dashboard; browser-safe (no node:*).
 */
import {
  addressesEqual,
  decryptWithSignature,
  encryptWithSignature,
  isCryptoError,
  recoverAddress,
} from '../crypto/index.js';
import { utf8Decode, utf8Encode } from '../crypto/utf8.js';
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  backupEnvelopeSchema,
  backupPayloadSchema,
  type BackupEnvelope,
  type BackupPayload,
  type BackupPayloadInput,
} from './format.js';

export type ConfigBackupErrorCode =
  'INVALID_BACKUP' | 'WRONG_SIGNATURE' | 'DECRYPTION_FAILED' | 'INVALID_PAYLOAD';

export class ConfigBackupError extends Error {
  constructor(
    readonly code: ConfigBackupErrorCode,
    message: string,
    /** Dotted paths of the payload fields that failed validation. */
    readonly fields?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ConfigBackupError';
  }
}

function issuesToFields(issues: readonly { path: PropertyKey[]; message: string }[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of issues) fields[issue.path.map(String).join('.')] ??= issue.message;
  return fields;
}

/** Refuses a signature that is not `wallet`'s signature of `publicSecret`: it would key nothing useful. */
function requireSigner(publicSecret: string, signature: string, wallet: string): void {
  let signer: string;
  try {
    signer = recoverAddress(publicSecret, signature);
  } catch (error) {
    if (isCryptoError(error))
      throw new ConfigBackupError('WRONG_SIGNATURE', `signature is not valid: ${error.message}`);
    throw error;
  }
  if (!addressesEqual(signer, wallet))
    throw new ConfigBackupError(
      'WRONG_SIGNATURE',
      `the signature is from ${signer}, but the backup belongs to ${wallet}: sign "${publicSecret}" with that wallet`,
    );
}

/** Encrypts `payload` (validated first) into a backup envelope for the admin wallet. */
export function createBackup(
  payload: BackupPayloadInput,
  admin: { wallet: string; signature: string; publicSecret: string },
  now: Date = new Date(),
): BackupEnvelope {
  const parsed = backupPayloadSchema.safeParse(payload);
  if (!parsed.success)
    throw new ConfigBackupError(
      'INVALID_PAYLOAD',
      'the configuration is not valid',
      issuesToFields(parsed.error.issues),
    );
  requireSigner(admin.publicSecret, admin.signature, admin.wallet);
  return {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    createdAt: now.toISOString(),
    wallet: admin.wallet,
    publicSecret: admin.publicSecret,
    ciphertext: encryptWithSignature(admin.signature, utf8Encode(JSON.stringify(parsed.data))),
  };
}

/** Reads the cleartext envelope (which wallet and message the key comes from) without decrypting. */
export function parseBackupEnvelope(file: unknown): BackupEnvelope {
  const parsed = backupEnvelopeSchema.safeParse(file);
  if (!parsed.success)
    throw new ConfigBackupError(
      'INVALID_BACKUP',
      `not a BlockHost configuration backup (${BACKUP_FORMAT} version ${BACKUP_VERSION})`,
      issuesToFields(parsed.error.issues),
    );
  return parsed.data;
}

/** Decrypts and validates a backup with the admin's signature of the envelope's public secret. */
export function openBackup(file: unknown, signature: string): BackupPayload {
  const envelope = parseBackupEnvelope(file);
  requireSigner(envelope.publicSecret, signature, envelope.wallet);
  let json: string;
  try {
    json = utf8Decode(decryptWithSignature(signature, envelope.ciphertext));
  } catch (error) {
    if (isCryptoError(error))
      throw new ConfigBackupError(
        'DECRYPTION_FAILED',
        `the backup does not decrypt with this signature: ${error.message}`,
      );
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new ConfigBackupError('INVALID_PAYLOAD', 'the decrypted backup is not JSON');
  }
  const parsed = backupPayloadSchema.safeParse(value);
  if (!parsed.success)
    throw new ConfigBackupError(
      'INVALID_PAYLOAD',
      'the backup decrypted, but its configuration is not valid for this version',
      issuesToFields(parsed.error.issues),
    );
  return parsed.data;
}
