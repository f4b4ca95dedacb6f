/** A server message built by hand from the protocol's documentation: type byte, length (counting itself), body. */
export function backendMessage(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** A C string as the protocol writes one: the bytes, then a zero. */
export const cstring = (text: string): Buffer => Buffer.from(`${text}\u0000`);
