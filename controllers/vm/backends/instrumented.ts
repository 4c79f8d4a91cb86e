import { Histogram, type Registry } from 'prom-client';
import { BackendError, type VmBackend } from '../backend.js';

type Operation =
  | 'observe'
  | 'create'
  | 'update'
  | 'power'
  | 'delete'
  | 'guestExec'
  | 'guestReadFile'
  | 'guestWriteFile'
  | 'check';
const OPERATIONS: Operation[] = [
  'observe',
  'create',
  'update',
  'power',
  'delete',
  'guestExec',
  'guestReadFile',
  'guestWriteFile',
  'check',
];

/** Prometheus histogram of driver calls, by backend, operation and outcome (ok or the error reason). */
export class BackendMetrics {
  readonly operations: Histogram<'backend' | 'operation' | 'result'>;

  constructor(registry: Registry) {
    this.operations = new Histogram({
      name: 'blockhost_backend_operation_duration_seconds',
      help: 'VM backend driver calls: duration by backend, operation and result (ok or the error reason)',
      labelNames: ['backend', 'operation', 'result'],
      buckets: [0.01, 0.05, 0.25, 1, 5, 15, 60, 300],
      registers: [registry],
    });
  }

  /** `backend` with every operation timed and counted. */
  instrument(backend: VmBackend): VmBackend {
    const wrapped: VmBackend = Object.create(backend) as VmBackend;
    for (const operation of OPERATIONS) {
      // check is optional: a driver without one stays without one.
      if (typeof backend[operation] !== 'function') continue;
      const call = (backend[operation] as (...args: unknown[]) => Promise<unknown>).bind(backend);
      Object.defineProperty(wrapped, operation, {
        value: async (...args: unknown[]) => {
          const stop = this.operations.startTimer({ backend: backend.type, operation });
          try {
            const result = await call(...args);
            stop({ result: 'ok' });
            return result;
          } catch (error) {
            stop({ result: error instanceof BackendError ? error.reason : 'Error' });
            throw error;
          }
        },
      });
    }
    return wrapped;
  }
}
