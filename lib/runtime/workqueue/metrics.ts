/**
 * Hooks a queue calls as work moves through it; every call carries the queue's name so one
 * implementation can serve all queues. The controller runtime maps them to Prometheus series labelled
 * `name`, as client-go does:
 *
 * - `add` → counter `workqueue_adds_total`
 * - `depth` → gauge `workqueue_depth` (keys waiting to be handed out)
 * - `retry` → counter `workqueue_retries_total` (delayed and rate-limited adds)
 * - `latency` → histogram `workqueue_queue_duration_seconds` (from add until a worker gets the key)
 * - `workDuration` → histogram `workqueue_work_duration_seconds` (from get until done)
 * - `unfinishedWork` → gauges `workqueue_unfinished_work_seconds` and
 *   `workqueue_longest_running_processor_seconds`, reported periodically so a stuck worker shows
 *   up even though it produces no events
 */
export interface QueueMetrics {
  add(name: string): void;
  depth(name: string, depth: number): void;
  retry(name: string): void;
  latency(name: string, seconds: number): void;
  workDuration(name: string, seconds: number): void;
  unfinishedWork?(name: string, unfinishedSeconds: number, longestRunningSeconds: number): void;
}

export const noopQueueMetrics: QueueMetrics = {
  add() {},
  depth() {},
  retry() {},
  latency() {},
  workDuration() {},
};
