import { describe, expect, it } from '@jest/globals';
import { powerStateOf } from './power-state.js';

describe('powerStateOf', () => {
  it.each([
    [{ status: 'running', qmpstatus: 'running' }, 'Running'],
    [{ status: 'running', qmpstatus: 'paused' }, 'Paused'],
    [{ status: 'running', qmpstatus: 'prelaunch' }, 'Starting'],
    [{ status: 'running', qmpstatus: 'running', lock: 'suspending' }, 'Stopping'],
    [{ status: 'running', qmpstatus: 'running', lock: 'backup' }, 'Running'],
    [{ status: 'stopped', qmpstatus: 'stopped' }, 'Stopped'],
    [{ status: 'stopped', lock: 'suspended' }, 'Paused'],
    [{ status: 'stopped', lock: 'clone' }, 'Starting'],
    [{ status: 'unknown' }, 'Unknown'],
    [{}, 'Unknown'],
  ])('%j is %s', (status, power) => expect(powerStateOf(status)).toBe(power));
});
