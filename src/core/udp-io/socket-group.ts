import { READABLE, type UdpIo, type UdpWatch } from './udp-io.ts';

/** A socket of a group: handed each datagram read for it (its slot in the path's read slab), or its error. */
export interface GroupMember {
  take(slot: number): void;
  readFailed(result: number): void;
}

/** Where the group's reads land: the path's read slab and arrays, and each entry's socket. */
export interface GroupReads {
  slab: Buffer;
  slotBytes: number;
  lengths: Int32Array;
  from: Uint32Array;
  fds: Int32Array;
  /** When each arrived, for members opened with arrival times (0 for the others). */
  stamps: Float64Array;
}

/**
 * Many quiet sockets watched as one (udp-io.c's group: an epoll set under one libuv watch): a relay holds a binding per
 * device, each with an ACK now and then, and a watch of its own each cost a callback into JavaScript and a read per
 * datagram. Here one callback reads every ready socket's datagrams. The watch exists only while the group has
 * members, so an empty group never keeps the process alive.
 */
export class SocketGroup {
  private epoll = -1;
  private watch: UdpWatch | undefined;
  private readonly members = new Map<number, GroupMember>();
  private readonly handOut = (): void => this.read();
  /** Members opened with arrival times: while there are any, every read asks the kernel's stamps. */
  private stamped = 0;

  constructor(
    private readonly io: UdpIo,
    private readonly reads: GroupReads,
    /** Wraps the hand-out of one read, so that the sends it causes leave together (native-io's dispatch). */
    private readonly dispatch: (handOut: () => void) => void,
  ) {}

  /** Adds a socket; -errno when the group cannot be made or take it. */
  add(fd: number, member: GroupMember, arrivalTimes: boolean): number {
    if (this.watch === undefined) {
      const epoll = this.io.groupOpen();
      if (epoll < 0) return epoll;
      const watch = this.io.watch(epoll, READABLE, () => this.dispatch(this.handOut));
      if (typeof watch === 'number') {
        this.io.closeFd(epoll);
        return watch;
      }
      this.epoll = epoll;
      this.watch = watch;
    }
    const added = this.io.groupAdd(this.epoll, fd);
    if (added < 0) {
      this.closeIfEmpty();
      return added;
    }
    this.members.set(fd, member);
    if (arrivalTimes) this.stamped++;
    return 0;
  }

  /** Takes a socket out, before it is closed. */
  remove(fd: number, arrivalTimes: boolean): void {
    if (!this.members.delete(fd)) return;
    if (arrivalTimes) this.stamped--;
    this.io.groupRemove(this.epoll, fd);
    this.closeIfEmpty();
  }

  private read(): void {
    const { slab, slotBytes, lengths, from, fds, stamps } = this.reads;
    const count = this.io.groupRecv(this.epoll, slab, slotBytes, lengths, from, fds, this.stamped > 0 ? stamps : undefined);
    for (let i = 0; i < count; i++) {
      // A member removed by a handler earlier in this batch is skipped: its datagrams went with its socket.
      const member = this.members.get(fds[i] as number);
      if (member === undefined) continue;
      if (lengths[i] === -2) member.readFailed(-(from[2 * i] as number));
      else member.take(i);
    }
  }

  private closeIfEmpty(): void {
    if (this.members.size > 0 || this.watch === undefined) return;
    this.io.close(this.watch);
    this.watch = undefined;
    this.epoll = -1;
  }
}
