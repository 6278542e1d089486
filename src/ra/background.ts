import type { Logger } from '../log.js';

/**
 * Work that outlives the request that started it (a validation). Tracked so that shutdown and
 * tests can wait for it; a failure is logged, never thrown into nowhere. Anything lost here by a
 * crash is in the database as 'processing' with a lease, and recovery picks it up.
 */
export class Background {
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly log: Logger) {}

  /**
   * Starts the work; the returned promise settles when it is done and never rejects: it gives
   * the work's result, or undefined when the work failed (and was logged).
   */
  run<T>(what: string, work: () => Promise<T>): Promise<T | undefined> {
    const p: Promise<T | undefined> = work()
      .catch((err) => {
        this.log.error({ err, what }, 'background work failed; recovery will retry it');
        return undefined;
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
    return p;
  }

  async drain(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }
}
