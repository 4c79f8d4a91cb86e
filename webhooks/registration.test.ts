import { describe, expect, it } from '@jest/globals';
import { WEBHOOK_NAMES, webhookConfigurations } from './registration.js';

const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('webhook configurations', () => {
  const { mutating, validating } = webhookConfigurations({
    endpoint: { service: { namespace: 'blockhost', name: 'blockhost-webhooks' } },
    caBundle: ca,
  });
  const all = [...mutating.webhooks, ...validating.webhooks];

  it('match only our group, version and operations', () => {
    for (const webhook of all) {
      expect(webhook.rules).toHaveLength(1);
      expect(webhook.rules[0]).toMatchObject({
        apiGroups: ['blockhost.io'],
        apiVersions: ['v1alpha1'],
        scope: '*',
      });
      expect(webhook).not.toHaveProperty('namespaceSelector');
      expect(webhook).not.toHaveProperty('objectSelector');
      expect(webhook).toMatchObject({
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        matchPolicy: 'Equivalent',
      });
    }
  });

  it('validate every main resource and fail closed; mutate only VMs', () => {
    const [validate, validateStatus] = validating.webhooks;
    expect(validate).toMatchObject({
      name: WEBHOOK_NAMES.validate,
      failurePolicy: 'Fail',
      timeoutSeconds: 10,
    });
    expect(validate!.rules[0]!.resources).toEqual(['hostconfigs', 'plans', 'subscriptions', 'vms']);
    expect(validate!.rules[0]!.operations).toEqual(['CREATE', 'UPDATE']);
    const [mutate] = mutating.webhooks;
    expect(mutate).toMatchObject({
      name: WEBHOOK_NAMES.mutate,
      failurePolicy: 'Fail',
      reinvocationPolicy: 'Never',
    });
    expect(mutate!.rules[0]!.resources).toEqual(['vms']);
    expect(validateStatus).toMatchObject({
      name: WEBHOOK_NAMES.validateStatus,
      failurePolicy: 'Ignore',
      timeoutSeconds: 3,
    });
    expect(validateStatus!.rules[0]).toMatchObject({
      resources: ['plans/status', 'subscriptions/status'],
      operations: ['UPDATE'],
    });
  });

  it('reach a Service for the chart and a URL for tests, with the CA base64-encoded', () => {
    expect(validating.webhooks[0]!.clientConfig).toEqual({
      service: { namespace: 'blockhost', name: 'blockhost-webhooks', path: '/validate', port: 443 },
      caBundle: Buffer.from(ca).toString('base64'),
    });
    const local = webhookConfigurations({
      endpoint: { url: 'https://127.0.0.1:9443/' },
      caBundle: ca,
      name: 'test',
    });
    expect(local.mutating.metadata.name).toBe('test');
    expect(local.mutating.webhooks[0]!.clientConfig).toMatchObject({ url: 'https://127.0.0.1:9443/mutate' });
  });

  it('refuses a timeout the apiserver would refuse', () => {
    expect(() =>
      webhookConfigurations({ endpoint: { url: 'https://x' }, caBundle: ca, timeoutSeconds: 31 }),
    ).toThrow('timeoutSeconds must be a whole number from 1 to 30');
  });
});
