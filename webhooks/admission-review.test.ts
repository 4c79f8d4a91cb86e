import { describe, expect, it } from '@jest/globals';
import { admissionReviewSchema, toResponse, type AdmissionRequest } from './admission-review.js';
import { fieldPath, formatFieldErrors, newErrorsOnly } from './field-errors.js';

const request: AdmissionRequest = {
  uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
  kind: { group: 'blockhost.io', version: 'v1alpha1', kind: 'VM' },
  resource: { group: 'blockhost.io', version: 'v1alpha1', resource: 'vms' },
  name: 'blockhost-007',
  namespace: 'blockhost',
  operation: 'CREATE',
  object: { metadata: {} },
  oldObject: null,
};

describe('AdmissionReview parsing', () => {
  it('reads what the apiserver sends, including a null oldObject on CREATE', () => {
    const parsed = admissionReviewSchema.safeParse({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { ...request, userInfo: { username: 'admin', groups: ['system:masters'] }, dryRun: false },
    });
    expect(parsed.success).toBe(true);
  });

  it.each([
    ['v1beta1', { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request }],
    [
      'no uid',
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { ...request, uid: '' } },
    ],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }],
    [
      'an unknown operation',
      {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { ...request, operation: 'PATCH' },
      },
    ],
  ])('refuses %s', (_what, body) => {
    expect(admissionReviewSchema.safeParse(body).success).toBe(false);
  });
});

describe('AdmissionResponse', () => {
  it('allows with no status when there is nothing to say', () => {
    expect(toResponse(request, { errors: [], warnings: [] })).toEqual({ uid: request.uid, allowed: true });
  });

  it('carries a mutation as a base64 JSONPatch', () => {
    const patch = [{ op: 'add' as const, path: '/spec/backend', value: 'libvirt' }];
    const response = toResponse(request, { errors: [], warnings: ['spec.backend defaulted'], patch });
    expect(response).toMatchObject({
      allowed: true,
      patchType: 'JSONPatch',
      warnings: ['spec.backend defaulted'],
    });
    expect(JSON.parse(Buffer.from(response.patch!, 'base64').toString())).toEqual(patch);
  });

  it('refuses with 422 Invalid, a message naming every field, and one cause per field', () => {
    const errors = [
      { path: 'spec.image', message: 'must be one of debian-12' },
      {
        path: 'spec.network.ipv4',
        message: 'must be inside the pool',
        reason: 'FieldValueForbidden' as const,
      },
    ];
    expect(toResponse(request, { errors, warnings: [] })).toEqual({
      uid: request.uid,
      allowed: false,
      status: {
        code: 422,
        reason: 'Invalid',
        message: 'spec.image: must be one of debian-12; spec.network.ipv4: must be inside the pool',
        details: {
          kind: 'vms',
          name: 'blockhost-007',
          causes: [
            { field: 'spec.image', message: 'must be one of debian-12', reason: 'FieldValueInvalid' },
            { field: 'spec.network.ipv4', message: 'must be inside the pool', reason: 'FieldValueForbidden' },
          ],
        },
      },
    });
  });

  it('refuses with 500 when the check itself failed', () => {
    const response = toResponse(request, {
      errors: [],
      warnings: [],
      internalError: 'apiserver unreachable',
    });
    expect(response).toEqual({
      uid: request.uid,
      allowed: false,
      status: { code: 500, reason: 'InternalError', message: 'apiserver unreachable' },
    });
  });

  it('keeps warnings few and short', () => {
    const warnings = Array.from({ length: 20 }, () => 'w'.repeat(400));
    const response = toResponse(request, { errors: [], warnings });
    expect(response.warnings).toHaveLength(8);
    expect(response.warnings![0]).toHaveLength(256);
  });
});

describe('field errors', () => {
  it('prints paths as the apiserver does', () => {
    expect(fieldPath(['spec', 'backend', 'libvirt', 'images', 1, 'name'])).toBe(
      'spec.backend.libvirt.images[1].name',
    );
    expect(formatFieldErrors([{ path: '', message: 'HostConfig is a singleton' }])).toBe(
      'HostConfig is a singleton',
    );
  });

  it('drops only the errors the stored object already had', () => {
    const old = [{ path: 'spec.a', message: 'bad' }];
    const now = [
      { path: 'spec.a', message: 'bad' },
      { path: 'spec.a', message: 'worse' },
      { path: 'spec.b', message: 'bad' },
    ];
    expect(newErrorsOnly(now, old)).toEqual(now.slice(1));
  });
});
