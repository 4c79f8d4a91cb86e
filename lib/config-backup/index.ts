export {
  ConfigBackupError,
  createBackup,
  openBackup,
  parseBackupEnvelope,
  type ConfigBackupErrorCode,
} from './backup.js';
export {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  backupEnvelopeSchema,
  backupPayloadSchema,
  type BackupEnvelope,
  type BackupPayload,
  type BackupPayloadInput,
} from './format.js';
