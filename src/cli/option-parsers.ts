import { InvalidArgumentError } from 'commander';

/** `20500,20501` -> [20500, 20501]; ports are 1-65535. */
export function parsePortList(value: string): number[] {
  const ports = value.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (ports.length === 0) throw new InvalidArgumentError('expected a comma-separated list of ports, e.g. 20500,20501');
  return ports.map((part) => {
    const port = Number(part);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidArgumentError(`"${part}" is not a port (1-65535)`);
    }
    return port;
  });
}
