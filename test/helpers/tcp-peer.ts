import { createServer, type Socket } from 'node:net';

/** A raw TCP peer written in a test (a server that never answers, one that stalls), and how to end it. */
export interface TcpPeer {
  port: number;
  /** Every connection it took, in order. */
  sockets: Socket[];
  /** Ends its connections, then stops listening. */
  close(): Promise<void>;
}

/**
 * Listens on `host` (`port`, any when 0) and hands each connection to `onConnection`. A peer that says nothing keeps
 * its connections open until `close` destroys them: a server's own close would wait for them for ever.
 */
export async function listenTcp(host: string, onConnection: (socket: Socket) => void = () => undefined, port = 0): Promise<TcpPeer> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    // A client the test ends (or the code under test gives up) resets the connection: not this peer's failure.
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : port,
    sockets,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
