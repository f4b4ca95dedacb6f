import { InvalidArgumentError, type Command } from 'commander';
import * as values from '../core/values.ts';

/** A value parser as commander wants it: its complaint becomes commander's one-line "option ... is invalid". */
function forCommander<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

export const parsePortList = forCommander(values.parsePortList);
export const parseDurationMs = forCommander(values.parseDurationMs);
export const parseFraction = forCommander(values.parseFraction);
export const parseVersion = forCommander(values.parseVersion);
export const parseListen = forCommander(values.parseListen);
export const parseInteger = forCommander(values.parseInteger);
export const parseListenPort = forCommander(values.parseListenPort);
export const parseName = forCommander(values.parseName);
export const parseIpList = forCommander(values.parseIpList);
export const parseHttpUrl = forCommander(values.parseHttpUrl);
export const parseWsUrl = forCommander(values.parseWsUrl);
export const parseFieldChange = forCommander(values.parseFieldChange);

/** An option's flag as typed, from commander's name for it: `ackTimeout` is `--ack-timeout`. */
export const flagOfOption = (option: string): string => `--${option.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;

/**
 * The first of `options` the user typed (a default is not typed), for refusing a flag the command at hand would not
 * read: commander keeps where each value came from.
 */
export function typedOption(command: Command, options: readonly string[]): string | undefined {
  return options.find((option) => command.getOptionValueSource(option) === 'cli');
}
