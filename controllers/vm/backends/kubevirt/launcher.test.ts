import { describe, expect, it } from '@jest/globals';
import { exitCodeOf } from './launcher.js';

describe('pods/exec status', () => {
  it('Success is exit code 0', () => {
    expect(exitCodeOf({ status: 'Success' })).toBe(0);
  });

  it('NonZeroExitCode carries the code as the ExitCode cause', () => {
    expect(
      exitCodeOf({
        status: 'Failure',
        reason: 'NonZeroExitCode',
        message: 'command terminated with non-zero exit code: error executing command [virsh], exit code 1',
        details: { causes: [{ reason: 'ExitCode', message: '1' }] },
      }),
    ).toBe(1);
  });

  it('any other failure has no exit code (the command did not run)', () => {
    expect(
      exitCodeOf({ status: 'Failure', reason: 'InternalError', message: 'container not found ("compute")' }),
    ).toBeUndefined();
  });
});
