// Worker tasks as PVE's fork_worker runs them: the API call answers a UPID at once, the work goes on
// in the background, and /nodes/{node}/tasks/{upid}/status says `running`, then `stopped` with an
// exit status ("OK" or the error text).

export interface FakeTask {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
  status: 'running' | 'stopped';
  exitstatus?: string;
  endtime?: number;
}

const hex8 = (value: number) => value.toString(16).toUpperCase().padStart(8, '0');

export class FakeTasks {
  private readonly tasks = new Map<string, FakeTask>();
  private nextPid = 0x1000 + Math.floor(Math.random() * 0x10000);
  /** Kernel start time of the (single, imaginary) pvedaemon worker's process, in clock ticks. */
  private readonly pstart = 0x100000 + Math.floor(Math.random() * 0x100000);

  constructor(private readonly node: string) {}

  /** Starts `work` in the background and returns its UPID; a thrown error becomes the exit status. */
  start(type: string, id: string, user: string, work: () => Promise<void>): string {
    const pid = this.nextPid++;
    const starttime = Math.floor(Date.now() / 1000);
    const upid = `UPID:${this.node}:${hex8(pid)}:${hex8(this.pstart)}:${hex8(starttime)}:${type}:${id}:${user}:`;
    const task: FakeTask = {
      upid,
      node: this.node,
      pid,
      pstart: this.pstart,
      starttime,
      type,
      id,
      user,
      status: 'running',
    };
    this.tasks.set(upid, task);
    void work().then(
      () => this.finish(task, 'OK'),
      (error: unknown) => this.finish(task, error instanceof Error ? error.message.trim() : String(error)),
    );
    return upid;
  }

  get(upid: string): FakeTask | undefined {
    return this.tasks.get(upid);
  }

  all(): FakeTask[] {
    return [...this.tasks.values()].map((task) => ({ ...task }));
  }

  private finish(task: FakeTask, exitstatus: string): void {
    task.status = 'stopped';
    task.exitstatus = exitstatus;
    task.endtime = Math.floor(Date.now() / 1000);
  }
}
