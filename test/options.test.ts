import { describe, expect, it } from 'vitest';
import * as path from 'path';
import {
  parseLaunchArgs, parseRestartArgs, parseCommandArgs, parseCoordinatorArgs, UsageError, failRc,
  launchHelp, commandHelp, coordinatorHelp, restartHelp,
} from '../src/options';

const NOENV = {} as NodeJS.ProcessEnv;

describe('parseLaunchArgs', () => {
  it('stops at the program name and passes its flags through', () => {
    const o = parseLaunchArgs(['-i', '5', './a.out', '--weird-flag', 'x'], NOENV);
    expect(o.program).toEqual(['./a.out', '--weird-flag', 'x']);
    expect(o.interval).toBe(5);
    expect(o.host).toBe('localhost');
    expect(o.port).toBe(7779);
    expect(o.coordMode).toBe('any');
    expect(o.gzip).toBe(true);
    expect(o.ckptSignal).toBe(12);
    expect(o.ckptDir).toBe(path.resolve('.'));
    expect(o.help).toBe(false);
  });

  it('treats -- as the end of options', () => {
    expect(parseLaunchArgs(['--no-gzip', '--', '-x', 'y'], NOENV).program).toEqual(['-x', 'y']);
  });

  it('accepts seed and current names, and --opt=value', () => {
    const a = parseLaunchArgs(['--coord-host', 'h1', '--coord-port=1234', '--ckpt-signal', '10', 'prog'], NOENV);
    expect([a.host, a.port, a.ckptSignal]).toEqual(['h1', 1234, 10]);
    const b = parseLaunchArgs(['-h', 'h2', '-p', '99', '--mtcp-checkpoint-signal', '14', '-j', 'prog'], NOENV);
    expect([b.host, b.port, b.ckptSignal, b.coordMode]).toEqual(['h2', 99, 14, 'join']);
  });

  it('reads the environment twins, options win', () => {
    const env = {
      DMTCP_HOST: 'eh', DMTCP_PORT: '4242', DMTCP_GZIP: '0', DMTCP_SIGCKPT: '10', DMTCP_CHECKPOINT_DIR: '/tmp/ck',
      DMTCP_CHECKPOINT_INTERVAL: '30', DMTCP_TMPDIR: '/tmp/tt',
    } as NodeJS.ProcessEnv;
    const o = parseLaunchArgs(['prog'], env);
    expect([o.host, o.port, o.gzip, o.ckptSignal, o.ckptDir, o.interval, o.tmpDir]).toEqual(['eh', 4242, false, 10, '/tmp/ck', 30, '/tmp/tt']);
    expect(parseLaunchArgs(['--port', '1', '--gzip', 'prog'], env)).toMatchObject({ port: 1, gzip: true });
    expect(parseLaunchArgs(['prog'], { DMTCP_COORD_PORT: '5', DMTCP_PORT: '6' } as NodeJS.ProcessEnv).port).toBe(5);
  });

  it('gives a new coordinator port 0 unless a port is asked for', () => {
    expect(parseLaunchArgs(['--new-coordinator', 'prog'], NOENV)).toMatchObject({ coordMode: 'new', port: 0 });
    expect(parseLaunchArgs(['--new-coordinator', '-p', '7000', 'prog'], NOENV).port).toBe(7000);
  });

  it('makes relative dirs absolute', () => {
    expect(parseLaunchArgs(['--ckptdir', 'sub', 'prog'], NOENV).ckptDir).toBe(path.resolve('sub'));
  });

  it('rejects unknown options, missing values and bad numbers with one line', () => {
    expect(() => parseLaunchArgs(['--frob', 'prog'], NOENV)).toThrow("dmtcp_launch: unknown option '--frob' (try --help)");
    expect(() => parseLaunchArgs(['--port'], NOENV)).toThrow(/needs a value/);
    expect(() => parseLaunchArgs(['--port', 'abc', 'prog'], NOENV)).toThrow(/needs a number/);
    expect(() => parseLaunchArgs(['--port', '70000', 'prog'], NOENV)).toThrow(/between 0 and 65535/);
    expect(() => parseLaunchArgs(['prog'], { DMTCP_PORT: 'x' } as NodeJS.ProcessEnv)).toThrow(/DMTCP_PORT/);
    expect(() => parseLaunchArgs(['prog'], { DMTCP_GZIP: '2' } as NodeJS.ProcessEnv)).toThrow(/DMTCP_GZIP/);
    expect(() => parseLaunchArgs([], NOENV)).toThrow(UsageError);
    expect(() => parseLaunchArgs(['--mtcp-checkpoint-signal', '99', 'p'], NOENV)).toThrow(/between 1 and 64/);
  });

  it('knows --help, --version and -h alone', () => {
    expect(parseLaunchArgs(['--help'], NOENV).help).toBe(true);
    expect(parseLaunchArgs(['-h'], NOENV).help).toBe(true);
    expect(parseLaunchArgs(['--version'], NOENV).version).toBe(true);
  });
});

describe('parseRestartArgs', () => {
  it('collects every image and the coordinator fields', () => {
    const o = parseRestartArgs(['-p', '0', '--new-coordinator', 'a.dmtcp', 'b.dmtcp'], NOENV);
    expect(o).toMatchObject({ port: 0, coordMode: 'new', images: ['a.dmtcp', 'b.dmtcp'], ckptDir: undefined });
    expect(parseRestartArgs(['--ckptdir', '/x', 'a.dmtcp', '--join-coordinator'], NOENV)).toMatchObject({ ckptDir: '/x', coordMode: 'join' });
    expect(() => parseRestartArgs([], NOENV)).toThrow(/no checkpoint image/);
    expect(parseRestartArgs(['-q', 'a.dmtcp'], NOENV).quiet).toBe(1);
    expect(parseRestartArgs(['a.dmtcp'], { DMTCP_QUIET: '2' }).quiet).toBe(2);
    expect(parseLaunchArgs(['-q', '--quiet', '-q', 'prog'], NOENV).quiet).toBe(2);   // DMTCP's levels stop at 2
    expect(parseLaunchArgs(['prog', '-q'], NOENV)).toMatchObject({ quiet: 0, program: ['prog', '-q'] });
    expect(() => parseLaunchArgs(['prog'], { DMTCP_QUIET: 'x' })).toThrow(/DMTCP_QUIET/);
  });
});

describe('parseCommandArgs', () => {
  it('accepts each command with one, two or no dashes', () => {
    for (const [args, name] of [
      [['-s'], 'status'], [['--status'], 'status'], [['s'], 'status'], [['-l'], 'list'], [['c'], 'checkpoint'],
      [['-bc'], 'bcheckpoint'], [['--bcheckpoint'], 'bcheckpoint'], [['kc'], 'kcheckpoint'], [['-k'], 'kill'],
      [['--quit'], 'quit'], [['q'], 'quit'],
    ] as Array<[string[], string]>) {
      expect(parseCommandArgs(args, NOENV).command).toBe(name);
    }
    expect(parseCommandArgs(['-i', '7'], NOENV)).toMatchObject({ command: 'interval', value: 7 });
    expect(parseCommandArgs(['--interval=8'], NOENV)).toMatchObject({ command: 'interval', value: 8 });
    expect(parseCommandArgs(['-i5', '-p7000'], NOENV)).toMatchObject({ command: 'interval', value: 5, port: 7000 });
  });

  it('takes host/port from options or env, -h alone and h mean help', () => {
    expect(parseCommandArgs(['-h', 'node3', '-p', '123', '-s', '--json'], NOENV)).toMatchObject({ host: 'node3', port: 123, json: true });
    expect(parseCommandArgs(['-s'], { DMTCP_HOST: 'e', DMTCP_PORT: '9' } as NodeJS.ProcessEnv)).toMatchObject({ host: 'e', port: 9 });
    expect(parseCommandArgs(['-h'], NOENV).help).toBe(true);
    expect(parseCommandArgs(['h'], NOENV).help).toBe(true);
  });

  it('rejects unknown words, two commands and no command', () => {
    expect(() => parseCommandArgs(['--frob'], NOENV)).toThrow("dmtcp_command: unknown option '--frob' (try --help)");
    expect(() => parseCommandArgs(['frob'], NOENV)).toThrow(/unknown command 'frob'/);
    expect(() => parseCommandArgs(['-s', '-k'], NOENV)).toThrow(/one command only/);
    expect(() => parseCommandArgs([], NOENV)).toThrow(/no command/);
    expect(() => parseCommandArgs(['-i'], NOENV)).toThrow(/needs a value/);
    expect(() => parseCommandArgs(['-i', 'x'], NOENV)).toThrow(/needs a number/);
  });
});

describe('parseCoordinatorArgs', () => {
  it('takes the port from the option, the positional or the env', () => {
    expect(parseCoordinatorArgs([], NOENV).port).toBe(7779);
    expect(parseCoordinatorArgs(['7000'], NOENV).port).toBe(7000);
    expect(parseCoordinatorArgs(['-p', '0'], NOENV).port).toBe(0);
    expect(parseCoordinatorArgs([], { DMTCP_PORT: '7100' } as NodeJS.ProcessEnv).port).toBe(7100);
    expect(parseCoordinatorArgs([], { DMTCP_CHECKPOINT_INTERVAL: '60' } as NodeJS.ProcessEnv).interval).toBe(60);
    const o = parseCoordinatorArgs(['--exit-on-last', '--daemon', '--ckptdir', 'd', '-i', '3', '--port-file', 'pf'], NOENV);
    expect(o).toMatchObject({ exitOnLast: true, daemon: true, ckptDir: path.resolve('d'), interval: 3, portFile: path.resolve('pf'), bind: '127.0.0.1' });
    expect(parseCoordinatorArgs(['-h'], NOENV).help).toBe(true);
    expect(() => parseCoordinatorArgs(['1', '2'], NOENV)).toThrow(/unexpected argument/);
    expect(() => parseCoordinatorArgs(['x'], NOENV)).toThrow(/needs a number/);
  });
});

describe('help and exit codes', () => {
  it('help texts name each option with its env twin', () => {
    expect(launchHelp()).toMatch(/--coord-port PORT \(environment variable DMTCP_COORD_PORT or DMTCP_PORT\)/);
    expect(launchHelp()).toMatch(/DMTCP_SIGCKPT/);
    expect(launchHelp()).toMatch(/DMTCP_GZIP/);
    expect(commandHelp()).toMatch(/-bc, --bcheckpoint/);
    expect(coordinatorHelp()).toMatch(/q : Kill all nodes and quit/);
    expect(restartHelp()).toMatch(/--new-coordinator/);
  });

  it('failRc honors DMTCP_FAIL_RC', () => {
    expect(failRc({} as NodeJS.ProcessEnv)).toBe(99);
    expect(failRc({ DMTCP_FAIL_RC: '42' } as NodeJS.ProcessEnv)).toBe(42);
    expect(failRc({ DMTCP_FAIL_RC: 'x' } as NodeJS.ProcessEnv)).toBe(99);
  });
});

describe('resident encoder switch (launch and restart)', () => {
  it('is on by default; --no-encoder-service or DMTCP_ENCODER_SERVICE=0 turns it off; the flag wins', () => {
    expect(parseLaunchArgs(['a.out'], NOENV).encoderService).toBe(true);
    expect(parseLaunchArgs(['--no-encoder-service', 'a.out'], NOENV).encoderService).toBe(false);
    expect(parseLaunchArgs(['a.out'], { DMTCP_ENCODER_SERVICE: '0' }).encoderService).toBe(false);
    expect(parseLaunchArgs(['--encoder-service', 'a.out'], { DMTCP_ENCODER_SERVICE: '0' }).encoderService).toBe(true);
    expect(parseRestartArgs(['ckpt.dmtcp'], NOENV).encoderService).toBe(true);
    expect(parseRestartArgs(['--no-encoder-service', 'ckpt.dmtcp'], NOENV).encoderService).toBe(false);
    expect(parseRestartArgs(['ckpt.dmtcp'], { DMTCP_ENCODER_SERVICE: '0' }).encoderService).toBe(false);
  });

  it('any other value of DMTCP_ENCODER_SERVICE is a usage error naming it', () => {
    expect(() => parseLaunchArgs(['a.out'], { DMTCP_ENCODER_SERVICE: '2' })).toThrow(UsageError);
    expect(() => parseRestartArgs(['ckpt.dmtcp'], { DMTCP_ENCODER_SERVICE: 'yes' })).toThrow(/DMTCP_ENCODER_SERVICE must be 0 or 1, got 'yes'/);
  });
});
