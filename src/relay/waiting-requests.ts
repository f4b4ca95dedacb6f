import type { PendingRequest } from './upstream-socket.ts';

/**
 * Requests waiting for their ACK, in the order they were sent: the oldest are the first to time out, so expiring is a
 * walk from the front that stops at the first one still in time.
 */
export class WaitingRequests {
  private readonly queue: PendingRequest[] = [];
  private head = 0;

  get count(): number {
    return this.queue.length - this.head;
  }

  push(request: PendingRequest): void {
    this.queue.push(request);
  }

  /** Hands every unsettled request sent before `deadlineMs` (performance.now()) to `timedOut`, and forgets the settled ones. */
  expire(deadlineMs: number, timedOut: (request: PendingRequest) => void): void {
    while (this.head < this.queue.length) {
      const request = this.queue[this.head] as PendingRequest;
      if (!request.settled && request.sentMs > deadlineMs) break;
      this.head++;
      if (!request.settled) timedOut(request);
    }
    // Compact now and then, so the queue's memory follows what is waiting, not what ever waited.
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
