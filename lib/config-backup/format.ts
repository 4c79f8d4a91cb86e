import { z } from 'zod';
import { ethAddress, objectName } from '../api/v1alpha1/common.js';
import { hostConfigSpecSchema } from '../api/v1alpha1/hostconfig.js';
import { planSpecSchema } from '../api/v1alpha1/plan.js';

/** Tells a backup file apart from any other JSON a user might upload. */
export const BACKUP_FORMAT = 'blockhost-config-backup';
export const BACKUP_VERSION = 1;

/** What a backup holds once decrypted: the HostConfig spec and every Plan, by object name. */
export const backupPayloadSchema = z.object({
  hostConfig: hostConfigSpecSchema,
  plans: z
    .array(z.object({ name: objectName, spec: planSpecSchema }))
    .max(64)
    .superRefine((plans, ctx) => {
      const names = plans.map((p) => p.name);
      names.forEach((name, index) => {
        if (names.indexOf(name) !== index)
          ctx.addIssue({
            code: 'custom',
            message: `duplicate plan name ${name}`,
            path: [index, 'name'],
            input: name,
          });
      });
    }),
});
export type BackupPayload = z.infer<typeof backupPayloadSchema>;
/** The payload before defaults are applied (what a caller hands to createBackup). */
export type BackupPayloadInput = z.input<typeof backupPayloadSchema>;

/**
 * The file: cleartext says which wallet and message re-create the key (so the importer knows what
 * to sign); `ciphertext` is INTEROP §2's signature-keyed AES-GCM blob of the payload's JSON.
 */
export const backupEnvelopeSchema = z.object({
  format: z.literal(BACKUP_FORMAT),
  version: z.literal(BACKUP_VERSION),
  createdAt: z.iso.datetime({ offset: true }),
  wallet: ethAddress,
  publicSecret: z.string().min(1).max(256),
  // 64 KiB of JSON is far above any real HostConfig; the bound keeps a hostile file cheap to reject.
  ciphertext: z
    .string()
    .max(2 + 2 * 64 * 1024)
    .regex(/^0x([0-9a-fA-F]{2})+$/, 'must be 0x followed by hex bytes'),
});
export type BackupEnvelope = z.infer<typeof backupEnvelopeSchema>;
