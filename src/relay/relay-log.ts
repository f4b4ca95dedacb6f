/** One JSON object per line on stdout, as the specs' structured logging asks; no per-packet lines. */
export type RelayLog = (level: 'info' | 'warn' | 'error' | 'debug', event: string, fields?: Record<string, unknown>) => void;

export function jsonLineLog(write: (line: string) => void = (line) => process.stdout.write(line)): RelayLog {
  return (level, event, fields = {}) => {
    write(`${JSON.stringify({ timestamp: new Date().toISOString(), level, event, ...fields })}\n`);
  };
}

export const silentLog: RelayLog = () => undefined;
