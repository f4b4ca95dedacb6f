import { Option, type Command } from 'commander';
import { IO_CHOICES, type IoChoice } from '../core/udp-io/datagram-path.ts';
import { jsonLineLog } from '../relay/relay-log.ts';
import { RelayService } from '../relay/relay-service.ts';
import { parseListenPort } from './option-parsers.ts';
import { waitForStop } from './shutdown.ts';

interface RelayFlags {
  routes?: string;
  config?: string;
  debugPort?: number;
  bindIp?: string;
  duration?: number;
  io?: IoChoice;
}

export function registerRelayCommand(program: Command): void {
  program
    .command('relay')
    .description('run the reference mirroring relay (dual mirroring, N-way fan-out, kill switch, live reload)')
    .option('--routes <file>', 'routes.json (default: app.routes_file of --config)')
    .option('--config <file>', 'config.yaml with the app section (bind_ip, response_timeout_ms, routes_file, mirror_ip)')
    .option('--debug-port <port>', 'port of /metrics and /debug/* on 127.0.0.1 (0: any free port)', parseListenPort)
    .option('--bind-ip <ip>', 'address to listen on, overriding app.bind_ip')
    .addOption(
      new Option('--io <path>', "datagram path: native (batched, in C; built by npm install where a C compiler is present), dgram (Node's), auto (native where built; the default, or PARITY_UDP_IO)")
        .choices(IO_CHOICES),
    )
    .addHelpText(
      'after',
      '\nThe relay watches its routes file and reloads on change or SIGHUP; an invalid version is rejected and the last\n' +
        'good one stays. Logs are JSON lines on stdout; relay_started names the datagram path in use (io).\n\nExample:\n  parity relay --routes routes.json --config config.yaml --debug-port 8765\n  parity relay --routes routes.json --io dgram\n',
    )
    .action(async (flags: RelayFlags) => {
      const service = await RelayService.start({
        ...(flags.routes !== undefined && { routesPath: flags.routes }),
        ...(flags.config !== undefined && { configPath: flags.config }),
        ...(flags.debugPort !== undefined && { debugPort: flags.debugPort }),
        ...(flags.bindIp !== undefined && { bindIp: flags.bindIp }),
        ...(flags.io !== undefined && { io: flags.io }),
        log: jsonLineLog(),
        handleSighup: true,
      });
      await waitForStop().stopped;
      await service.stop();
    });
}
