import { z } from 'zod';
import type { FieldError } from './field-errors.js';
import { formatFieldErrors } from './field-errors.js';
import type { JsonPatchOperation } from './json-patch.js';

// admission.k8s.io/v1 AdmissionReview, the slice of it we read and write.

const groupVersionKind = z.object({ group: z.string(), version: z.string(), kind: z.string() });
const groupVersionResource = z.object({ group: z.string(), version: z.string(), resource: z.string() });

const kubeObject = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.looseObject({}).optional(),
});

export const admissionRequestSchema = z.object({
  uid: z.string().min(1),
  kind: groupVersionKind,
  resource: groupVersionResource,
  subResource: z.string().optional(),
  name: z.string().optional(),
  namespace: z.string().optional(),
  operation: z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
  userInfo: z.looseObject({ username: z.string().optional() }).optional(),
  // The apiserver sends null for the side that does not exist (oldObject on CREATE).
  object: kubeObject.nullish(),
  oldObject: kubeObject.nullish(),
  dryRun: z.boolean().optional(),
});
export type AdmissionRequest = z.infer<typeof admissionRequestSchema>;

export const admissionReviewSchema = z.object({
  apiVersion: z.literal('admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview'),
  request: admissionRequestSchema,
});

/** What a handler decides; turned into an AdmissionResponse by `toResponse`. */
export interface AdmissionVerdict {
  /** Reasons to refuse; empty means allowed. */
  errors: FieldError[];
  warnings: string[];
  patch?: JsonPatchOperation[];
  /** Set when the check itself failed (a lookup could not be made): refuse with 500. */
  internalError?: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: {
    code: number;
    message: string;
    reason: 'Invalid' | 'InternalError';
    details?: { kind: string; name?: string; causes: { field: string; message: string; reason: string }[] };
  };
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
}

/** The apiserver prints warnings as they are; it drops what exceeds these limits, so we cut earlier. */
const MAX_WARNINGS = 8;
const MAX_WARNING_LENGTH = 256;

export function toResponse(request: AdmissionRequest, verdict: AdmissionVerdict): AdmissionResponse {
  const warnings = verdict.warnings
    .slice(0, MAX_WARNINGS)
    .map((w) => (w.length > MAX_WARNING_LENGTH ? `${w.slice(0, MAX_WARNING_LENGTH - 1)}…` : w));
  const base = { uid: request.uid, ...(warnings.length > 0 && { warnings }) };
  if (verdict.internalError !== undefined) {
    return {
      ...base,
      allowed: false,
      status: { code: 500, reason: 'InternalError', message: verdict.internalError },
    };
  }
  if (verdict.errors.length > 0) {
    return {
      ...base,
      allowed: false,
      status: {
        code: 422,
        reason: 'Invalid',
        message: formatFieldErrors(verdict.errors),
        details: {
          kind: request.resource.resource,
          ...(request.name && { name: request.name }),
          causes: verdict.errors.map((e) => ({
            field: e.path,
            message: e.message,
            reason: e.reason ?? 'FieldValueInvalid',
          })),
        },
      },
    };
  }
  if (verdict.patch && verdict.patch.length > 0) {
    return {
      ...base,
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(verdict.patch)).toString('base64'),
    };
  }
  return { ...base, allowed: true };
}

export function reviewResponse(response: AdmissionResponse) {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}
