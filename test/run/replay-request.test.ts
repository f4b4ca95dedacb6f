import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { registerReplayCommand, requestFrom } from '../../src/cli/replay-command.ts';
import { flagOf, REPLAY_FIELDS } from '../../src/run/replay-request.ts';
import { loadScenario } from '../../src/scenario/load-scenario.ts';
import { parseScenario } from '../../src/scenario/scenario-spec.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const flags = (extra: Record<string, string>) => ({ relay: '127.0.0.1', protocol: 'generic', db: 'x.duckdb', ...extra });
const yamlReplay = (replay: Record<string, string | number>) => parseScenario({ name: 'r', traffic: { capture: 'fleet' }, replay }, 'r.yaml').replay;

describe('one replay request for flags and scenario keys', () => {
  it('the same words give the same replay, defaults included', () => {
    expect(requestFrom(flags({}))).toEqual(yamlReplay({}));
    expect(yamlReplay({})).toEqual({ pace: { kind: 'original', speed: 1 }, loops: 1, durationMs: undefined, sample: 1, seed: 1, ackTimeoutMs: 2000, answerTimeoutMs: 30_000, devices: '127.20.0.0/16', drainMs: undefined, senderCpu: 'auto' });
    const words = { rate: '5k', loop: '3', duration: '90s', sample: '25%', seed: '7', ack_timeout: '500ms', answer_timeout: '5s', devices: '127.30.0.0/16', sender_cpu: '1' };
    const fromFlags = requestFrom(flags({ rate: words.rate, loop: words.loop, duration: words.duration, sample: words.sample, seed: words.seed, ackTimeout: words.ack_timeout, answerTimeout: words.answer_timeout, devices: words.devices, senderCpu: words.sender_cpu }));
    expect(fromFlags).toEqual({ ...yamlReplay(words), drainMs: undefined });
    expect(fromFlags).toMatchObject({ pace: { kind: 'rate', ratePps: 5000 }, loops: 3, durationMs: 90_000, sample: 0.25, seed: 7, ackTimeoutMs: 500, answerTimeoutMs: 5000, senderCpu: 1 });
    // --sender-cpu's words: a CPU, auto (the default) or none.
    expect(requestFrom(flags({ senderCpu: 'none' })).senderCpu).toBe('none');
    expect(yamlReplay({ sender_cpu: 'auto' }).senderCpu).toBe('auto');
    // YAML numbers read as the same words.
    expect(yamlReplay({ loop: 3, seed: 7 })).toMatchObject({ loops: 3, seed: 7 });
  });

  it.each([
    ['loop', '0', /"0" is not a whole number from 1 to 1000000/],
    ['loop', '1.5', /"1.5" is not a whole number/],
    ['seed', '-1', /"-1" is not a whole number from 0 to 4294967295/],
    ['sample', '0%', /replays no device/],
    ['sample', '150%', /not a share/],
    ['ack_timeout', '0', /out of range/],
    ['ack_timeout', '11m', /out of range/],
    ['duration', '0s', /out of range/],
    ['speed', 'fast', /not a speed/],
    ['rate', '-3', /not a packet rate/],
    ['ramp', '100..200', /not FROM\.\.TO\/DURATION/],
    ['devices', '10.0.0.0/33', /not an IPv4 block/],
    ['sender_cpu', 'first', /"first" is not auto, none or a CPU's number from 0 to 4095/],
    ['sender_cpu', '4096', /not auto, none or a CPU's number/],
  ])('%s %s is refused by the flag and by the key, with the same words', (field, value, problem) => {
    const flag = `--${field.replace('_', '-')}`;
    const camel = field.replace(/_(\w)/, (_, letter: string) => letter.toUpperCase());
    expect(() => requestFrom(flags({ [camel]: value }))).toThrow(new RegExp(`^${flag}: .*${problem.source}`));
    expect(() => yamlReplay({ [field]: value })).toThrow(new RegExp(`^r\\.yaml: replay\\.${field}: .*${problem.source}`));
  });

  it('every key but drain (parity run\'s) is a flag of parity replay, and each flag reaches the request', () => {
    const program = new Command();
    registerReplayCommand(program);
    const replay = program.commands.find((command) => command.name() === 'replay');
    const offered = new Set(replay?.options.map((option) => option.long));
    for (const field of REPLAY_FIELDS.filter((f) => f !== 'drain')) expect(offered.has(flagOf(field)), flagOf(field)).toBe(true);
  });

  it('one pace only, named by the flag or key that came second', () => {
    expect(() => requestFrom(flags({ speed: '2x', rate: '5k' }))).toThrow(/^--rate: cannot be given with speed/);
    expect(() => yamlReplay({ rate: '5k', ramp: '1..2/1s' })).toThrow(/^r\.yaml: replay\.ramp: cannot be given with rate/);
  });

  it('a scenario file names the line of the key at fault', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'bad.yaml');
      writeFileSync(file, ['name: bad', 'traffic: {capture: fleet}', 'replay:', '  speed: 2x', '  loop: 0', ''].join('\n'));
      await expect(loadScenario(file)).rejects.toThrow(`${file}:5: replay.loop: "0" is not a whole number from 1 to 1000000`);
      writeFileSync(file, ['name: bad', 'traffic: {capture: fleet}', 'timeline:', '  - at: 1s', '    stop: nobody', ''].join('\n'));
      await expect(loadScenario(file)).rejects.toThrow(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:5: timeline\\[0\\]\\.stop`));
    });
  });
});
