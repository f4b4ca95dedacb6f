/**
 * A socket error's kind, in words a report or a metric label can use: the replayer's send errors, a tap's, and the
 * relay's backend errors are all counted by it.
 */
export function socketErrorKind(code: string | undefined): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'unreachable';
    case 'ENOBUFS':
    case 'EAGAIN':
    case 'EWOULDBLOCK':
      return 'no_buffer';
    default:
      return code?.toLowerCase() ?? 'other';
  }
}
