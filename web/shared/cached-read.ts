/**
 * A value read at most once every `maxAgeMs`, and by one read at a time: a busy public page costs
 * the API server one request per interval, however many visitors ask at once.
 */
export class CachedRead<T> {
  private last?: { at: number; value: T };
  private pending?: Promise<T>;

  constructor(
    private readonly read: () => Promise<T>,
    private readonly now: () => number,
    private readonly maxAgeMs: number,
  ) {}

  get(): Promise<T> {
    if (this.last && this.now() - this.last.at < this.maxAgeMs) return Promise.resolve(this.last.value);
    this.pending ??= this.read()
      .then((value) => {
        this.last = { at: this.now(), value };
        return value;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }
}
