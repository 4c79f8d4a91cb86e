import { describe, expect, it } from '@jest/globals';
import { FakeClock } from '../../../lib/runtime/workqueue/fake-clock.js';
import { InstantBackend } from '../../../test/harness/instant-backend.js';
import type { BackendRef, ObservedVm } from '../backend.js';
import { BackendCallAbortedError, BackendTimeoutError, boundedBackend } from './bounded.js';

const ref: BackendRef = { namespace: 'ns', name: 'vm' };
const deadlines = { readMs: 1_000, changeMs: 60_000 };

/** A driver whose observe never answers and ignores its signal (the worst case), recording the signal. */
class HangingBackend extends InstantBackend {
  signals: AbortSignal[] = [];
  override observe(_ref: BackendRef, signal?: AbortSignal): Promise<ObservedVm | undefined> {
    this.signals.push(signal!);
    return new Promise(() => undefined);
  }
}

const settled = async (promise: Promise<unknown>) => {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe('boundedBackend', () => {
  it('releases the caller at the deadline with BackendTimeout and aborts the driver call', async () => {
    const clock = new FakeClock();
    const driver = new HangingBackend();
    const backend = boundedBackend(driver, { signal: new AbortController().signal, deadlines, clock });
    const call = backend.observe(ref);
    clock.advance(999);
    expect(await settled(call)).toBe(false);
    clock.advance(1);
    await expect(call).rejects.toThrow(BackendTimeoutError);
    await expect(call).rejects.toMatchObject({
      reason: 'BackendTimeout',
      message: 'observe on libvirt did not answer within 1 s',
    });
    expect(driver.signals[0]?.aborted).toBe(true);
  });

  it('gives changes their own, longer deadline', async () => {
    const clock = new FakeClock();
    const driver = new InstantBackend();
    driver.create = () => new Promise(() => undefined);
    const backend = boundedBackend(driver, { signal: new AbortController().signal, deadlines, clock });
    const call = backend.create({} as never);
    clock.advance(59_999);
    expect(await settled(call)).toBe(false);
    clock.advance(1);
    await expect(call).rejects.toThrow('create on libvirt did not answer within 60 s');
  });

  it('aborts an in-flight call when the reconcile is aborted, and refuses new ones without calling the driver', async () => {
    const clock = new FakeClock();
    const driver = new HangingBackend();
    const stop = new AbortController();
    const backend = boundedBackend(driver, { signal: stop.signal, deadlines, clock });
    const call = backend.observe(ref);
    stop.abort(new Error('leadership lost'));
    await expect(call).rejects.toThrow(BackendCallAbortedError);
    expect(driver.signals[0]?.aborted).toBe(true);
    await expect(backend.observe(ref)).rejects.toThrow(BackendCallAbortedError);
    expect(driver.signals).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('passes arguments and results through and clears its timer', async () => {
    const clock = new FakeClock();
    const driver = new InstantBackend();
    const backend = boundedBackend(driver, { signal: new AbortController().signal, deadlines, clock });
    expect(await backend.observe(ref)).toBeUndefined();
    expect(driver.calls.observe).toBe(1);
    expect(backend.type).toBe('libvirt');
    expect(clock.pendingTimers).toBe(0);
  });
});
