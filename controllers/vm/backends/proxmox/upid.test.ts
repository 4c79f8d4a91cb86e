import { describe, expect, it } from '@jest/globals';
import { parseUpid } from './upid.js';

describe('parseUpid', () => {
  it('reads node, pid, start times, type, id and user of a PVE task id', () => {
    expect(parseUpid('UPID:pve-1:00354EC5:07296561:6853C531:qmclone:9000:blockhost@pve!controller:')).toEqual(
      {
        node: 'pve-1',
        pid: 0x354ec5,
        pstart: 0x7296561,
        starttime: 0x6853c531,
        type: 'qmclone',
        id: '9000',
        user: 'blockhost@pve!controller',
      },
    );
  });

  it('accepts an empty id, as upload tasks have', () => {
    expect(parseUpid('UPID:pve:0000A1B2:00112233:65F1A2B3:imgcopy::root@pam:')?.id).toBe('');
  });

  it.each([
    ['no UPID prefix', 'pve:00354EC5:07296561:6853C531:qmclone:9000:root@pam:'],
    ['no trailing colon', 'UPID:pve:00354EC5:07296561:6853C531:qmclone:9000:root@pam'],
    ['short pid', 'UPID:pve:354EC5:07296561:6853C531:qmclone:9000:root@pam:'],
    ['non-hex starttime', 'UPID:pve:00354EC5:07296561:6853C53Z:qmclone:9000:root@pam:'],
    ['bad node name', 'UPID:-pve:00354EC5:07296561:6853C531:qmclone:9000:root@pam:'],
    ['null from a synchronous call', 'null'],
  ])('rejects %s', (_case, text) => {
    expect(parseUpid(text)).toBeUndefined();
  });
});
