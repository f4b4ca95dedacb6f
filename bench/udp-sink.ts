// A UDP sink in its own process: counts datagrams on `ip:port` until SIGTERM, then prints the count as JSON.
import dgram from 'node:dgram';

const [ip = '127.0.0.1', portText = '0'] = process.argv.slice(2);
const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
let received = 0;
socket.on('message', () => received++);
let closed = false;
const close = (): void => {
  if (closed) return;
  closed = true;
  socket.close();
  process.disconnect?.();
};
socket.on('error', (error) => {
  process.stderr.write(`udp sink on ${ip}:${portText}: ${error.message}\n`);
  process.exitCode = 1;
  close();
});
// Ends with its parent, so a killed benchmark leaves no sink holding the port.
process.on('disconnect', close);
socket.bind(Number(portText), ip, () => process.stdout.write(`${JSON.stringify({ ready: socket.address().port })}\n`));
process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ received })}\n`);
  close();
});
