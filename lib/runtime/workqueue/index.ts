export { realClock, type Clock, type Timer } from './clock.js';
export { FakeClock } from './fake-clock.js';
export { noopQueueMetrics, type QueueMetrics } from './metrics.js';
export { WorkQueue, type WorkQueueOptions } from './queue.js';
export {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  type RateLimiter,
} from './rate-limiters.js';
