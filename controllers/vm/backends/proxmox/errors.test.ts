import { describe, expect, it } from '@jest/globals';
import {
  isAgentUnavailable,
  isAlreadyExists,
  isLocked,
  isTransient,
  isVmMissing,
  PveApiError,
  PveTaskError,
} from './errors.js';

const api = (status: number, message: string) => new PveApiError('GET', '/x', status, message);

describe('PVE error meanings', () => {
  it('recognises a missing VM by 404 or by the config-file message PVE sends with 500', () => {
    expect(isVmMissing(api(500, "Configuration file 'nodes/pve/qemu-server/105.conf' does not exist"))).toBe(
      true,
    );
    expect(isVmMissing(api(404, 'Not Found'))).toBe(true);
    expect(isVmMissing(api(500, "volume 'local:iso/x.iso' does not exist"))).toBe(false);
  });

  it('recognises config locks and the config file lock, in API answers and task exit statuses', () => {
    expect(isLocked(api(500, 'VM is locked (clone)'))).toBe(true);
    expect(isLocked(api(500, "can't lock file '/var/lock/qemu-server/lock-105.conf' - got timeout"))).toBe(
      true,
    );
    expect(isLocked(new PveTaskError('UPID:x', 'VM is locked (backup)'))).toBe(true);
    expect(isLocked(api(500, 'VM 105 is running - destroy failed'))).toBe(false);
  });

  it('recognises an existing VMID and an agent that does not answer', () => {
    expect(isAlreadyExists(api(500, 'unable to create VM 105: config file already exists'))).toBe(true);
    expect(isAlreadyExists(api(500, "VM 105 already exists on node 'pve'"))).toBe(true);
    expect(isAgentUnavailable(api(500, 'QEMU guest agent is not running'))).toBe(true);
    expect(isAgentUnavailable(api(500, 'VM 105 is not running'))).toBe(true);
    expect(isAgentUnavailable(api(500, 'No QEMU guest agent configured'))).toBe(false);
  });

  it('retries only faults without a definite meaning', () => {
    expect(isTransient(api(0, 'ECONNRESET'))).toBe(true);
    expect(isTransient(api(0, 'unable to get local issuer certificate'))).toBe(false);
    expect(isTransient(api(502, 'Bad Gateway'))).toBe(true);
    expect(isTransient(api(503, 'Service Unavailable'))).toBe(true);
    expect(isTransient(api(595, 'Connection timed out'))).toBe(true);
    expect(isTransient(api(500, 'Internal Server Error'))).toBe(true);
    expect(isTransient(api(500, "Configuration file 'nodes/pve/qemu-server/1.conf' does not exist"))).toBe(
      false,
    );
    expect(isTransient(api(500, 'VM is locked (clone)'))).toBe(false);
    expect(isTransient(api(500, 'unable to create VM 105: config file already exists'))).toBe(false);
    expect(isTransient(api(500, 'QEMU guest agent is not running'))).toBe(false);
    expect(isTransient(api(401, 'invalid token value!'))).toBe(false);
    expect(isTransient(api(400, 'Parameter verification failed.'))).toBe(false);
    expect(isTransient(api(501, 'Method not implemented'))).toBe(false);
    expect(isTransient(new Error('boom'))).toBe(false);
  });
});
