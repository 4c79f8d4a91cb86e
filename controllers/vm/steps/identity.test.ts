import { describe, expect, it } from '@jest/globals';
import type { VM } from '../../../lib/api/v1alpha1/index.js';
import type { ObservedVm } from '../backend.js';
import { BACKEND_ID_ANNOTATION, backendRef, owns } from './identity.js';

const vm = (status: VM['status'], annotations?: Record<string, string>): VM =>
  ({
    metadata: { name: 'blockhost-001', namespace: 'ns', uid: 'uid-1', annotations },
    spec: {},
    status,
  }) as unknown as VM;
const seen = (id: string, intentId?: string): ObservedVm => ({
  id,
  intentId,
  power: 'Running',
  guestAgentConnected: true,
  addresses: {},
});

describe('VM identity on the backend', () => {
  it.each([
    ['created under its intent (the UID)', vm({}), seen('a', 'uid-1'), true],
    [
      'created under its intent, status lost',
      vm(undefined, { [BACKEND_ID_ANNOTATION]: 'a' }),
      seen('a', 'uid-1'),
      true,
    ],
    [
      'the id the controller recorded in status (an older random intent)',
      vm({ backendId: 'a' }),
      seen('a', 'f00d'),
      true,
    ],
    ['the id recorded, a backend that reads no tag', vm({ backendId: 'a' }), seen('a'), true],
    ['another VM under our name (squatter)', vm({}), seen('a', 'other-uid'), false],
    ['an untagged VM under our name', vm({}), seen('a'), false],
    // The annotation is writable by whoever may patch VMs (the web server): never proof of ownership.
    [
      'an annotation pointing at another VM',
      vm({}, { [BACKEND_ID_ANNOTATION]: 'victim' }),
      seen('victim', 'victim-uid'),
      false,
    ],
    [
      'an annotation pointing at an untagged VM',
      vm({}, { [BACKEND_ID_ANNOTATION]: 'victim' }),
      seen('victim'),
      false,
    ],
  ])('%s: owned=%s', (_case, object, observed, expected) => {
    expect(owns(object, observed)).toBe(expected);
  });

  it('looks up by the status id first, then the annotation, always with name and intent', () => {
    expect(backendRef(vm({ backendId: 's' }, { [BACKEND_ID_ANNOTATION]: 'a' }))).toEqual({
      namespace: 'ns',
      name: 'blockhost-001',
      id: 's',
      intentId: 'uid-1',
    });
    expect(backendRef(vm(undefined, { [BACKEND_ID_ANNOTATION]: 'a' })).id).toBe('a');
    expect(backendRef(vm(undefined)).id).toBeUndefined();
  });
});
