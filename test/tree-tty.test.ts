/**
 * Terminals: a pty made and driven inside the computation, and programs that
 * run on a terminal of their own, an interactive bash with job control and
 * vim in raw mode. The test gives them a terminal with script(1), which runs
 * dmtcp_launch (and later the restart script) on a new pty and relays its
 * stdin and stdout: the restart happens on another terminal, as a user's
 * would.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { BIN, program, Run, session, Session, waitUntil } from './helpers/e2e';
import { counted, kcheckpoint, oneTo, restartedPeers, twoRestarts } from './helpers/tree';
import { readImageMeta } from '../dist/image/decode.js';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

const scriptTool = spawnSync('sh', ['-c', 'command -v script'], { encoding: 'utf8' }).stdout.trim();
const vim = spawnSync('sh', ['-c', 'command -v vim'], { encoding: 'utf8' }).stdout.trim();

/** `command` on a new pty (script -q -f -e), stdin writable, in its own process group. */
type Terminal = Run & { type(text: string): void; text: string };

/** script(1) runs the command with `$SHELL -c`: bash execs it (the command leads
 * the terminal's session), dash forks it (dash leads the session, and the
 * command is a member whose group dash made foreground). */
function onTerminal(s: Session, command: string, shell = process.env.SHELL): Terminal {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${BIN}:${process.env.PATH}`, TERM: 'xterm', SHELL: shell };
  if (!shell) delete env.SHELL;
  const child = spawn(scriptTool, ['-qfec', command, '/dev/null'], { cwd: s.dir, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const run = new Run(child) as Terminal;
  run.text = '';
  child.stdout!.on('data', (d: string) => { run.text += d; });   // prompts and screens end without a newline
  run.type = (text: string) => { child.stdin!.write(text); };
  s.runs.push(run);
  return run;
}

/** Waits for pred; on a timeout the error shows what the terminal printed. */
const seen = (term: Terminal, pred: () => boolean, timeoutMs?: number): Promise<void> =>
  waitUntil(pred, timeoutMs).catch(() => { throw new Error(`timed out; the terminal shows:\n${clean([term.text]).join('')}\nstderr:\n${term.stderr}`); });

const clean = (lines: string[]): string[] => lines.map((l) => l.replace(/\x1b\[[?0-9;]*[a-zA-Z]/g, '').replace(/\r/g, ''));
const launchCmd = (s: Session, prog: string): string => `dmtcp_launch -p ${s.port} -j --ckptdir ${s.dir} ${prog}`;
const restartCmd = (s: Session): string => `${path.join(s.dir, 'dmtcp_restart_script.sh')} -p ${s.port}`;

/** The terminal settings `stty -a` reports for the pty a running process has at fd 0. */
async function sttyOf(s: Session, prog: string): Promise<string> {
  const peers = (await s.command('list')).filter((m) => m.verb === 'PEER' && m.fields.prog === prog);
  const tty = fs.readlinkSync(`/proc/${peers[0].fields.rpid}/fd/0`);
  return spawnSync('stty', ['-F', tty, '-a'], { encoding: 'utf8' }).stdout;
}

describe('a pty inside the computation', () => {
  for (const launchArgs of [[], ['--no-gzip']]) {
    it(`forkpty: the child keeps its terminal, settings, size and foreground group across two restarts (${launchArgs.length ? 'raw' : 'gzip'})`, async () => {
      s = await session();
      const c = await twoRestarts(s, program('ptydriver', { flags: ['-lutil'] }), ['30'], { launchArgs, ready: (l) => counted(l, 'P').length >= 5, processes: 2 });
      expect(c.end).toEqual({ code: 0, signal: null });
      expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
      expect(counted(c.lines, 'P')).toEqual(oneTo(30));
      expect(c.lines.at(-1)).toBe('DONE 30');
    });
  }
});

describe.skipIf(!scriptTool)('script(1) inside the computation', () => {
  it('script makes a pty for a counting shell loop; the count goes on through its pty after two restarts', async () => {
    s = await session();
    // script relays what the loop writes on its pty to our stdout; the loop's shell forks sleep
    const loop = 'i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo S $i; sleep 0.2; done';
    const c = await twoRestarts(s, scriptTool, ['-qfec', loop, '/dev/null'], { ready: (l) => counted(l, 'S').length >= 5 });
    expect(c.end, c.runs.map((r) => r.stderr).join('')).toEqual({ code: 0, signal: null });
    expect(counted(c.lines, 'S')).toEqual(oneTo(30));
    // script and its shell at least: script holds the pty's master, the shell its slave
    for (const images of c.images) expect(images.length).toBeGreaterThanOrEqual(2);
    const kinds = c.images[1].flatMap((i) => (readImageMeta(i).fds ?? []) as { kind?: string }[]).map((f) => f.kind);
    expect(kinds).toContain('ptymaster');
    expect(kinds).toContain('tty');
  });
});

describe('bytes in flight in a pty inside the computation', () => {
  it('lines written to the master but not read yet on the slave come back after two restarts, in order', async () => {
    s = await session();
    const c = await twoRestarts(s, program('ptyflight', { flags: ['-lutil'] }), ['60'], { ready: (l) => counted(l, 'P').length >= 8, processes: 2 });
    expect(c.end).toEqual({ code: 0, signal: null });
    expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
    expect(counted(c.lines, 'P')).toEqual(oneTo(60));
    const queued = c.images.flat().flatMap((i) => (readImageMeta(i).fds ?? []) as { kind?: string; ptyQueued?: number }[])
      .filter((f) => f.kind === 'ptymaster').map((f) => f.ptyQueued ?? 0);
    expect(queued.some((q) => q > 0)).toBe(true);
  });
  it('half a line in the slave\'s canonical queue (not readable yet) is still there after a checkpoint and after two restarts', async () => {
    s = await session();
    const prog = program('ptypartial', { flags: ['-lutil'] });
    let checkpointed = false;
    const c = await twoRestarts(s, prog, ['24'], {
      processes: 2,
      ready: (l) => {
        if (counted(l, 'P').length < 4) return false;
        if (!checkpointed) { checkpointed = true; void s!.checkpoint(); return false; }   // one it goes on from, too
        return counted(l, 'P').length >= 6;
      },
    });
    expect(c.end).toEqual({ code: 0, signal: null });
    expect(c.lines.filter((l) => l.includes('CORRUPT'))).toEqual([]);
    expect(counted(c.lines, 'P')).toEqual(oneTo(24));
    expect(c.lines.at(-1)).toBe('DONE 24');
  });
});

const shellPath = (name: string): string => spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
const sessionShells: [string, string][] = [['bash', 'the command leads the session'], ['dash', 'dash leads the session']];

describe.skipIf(!scriptTool)('programs on a terminal', () => {
  it.each(sessionShells)('an interactive bash with a background job runs commands after two restarts, job control and all (script runs %s: %s)', async (shellName) => {
    const shell = shellPath(shellName);
    expect(shell, `${shellName} is installed (.ci/run installs it)`).not.toBe('');
    s = await session();
    let term = onTerminal(s, launchCmd(s, 'bash --norc --noprofile -i'), shell);
    await seen(term, () => /[#$] $/.test(term.text), 20_000);
    term.type('x=41; echo "val $((x+1))"\n');
    term.type('sleep 300 &\n');
    await seen(term, () => clean(term.lines).some((l) => l === 'val 42'));
    await seen(term, () => clean(term.lines).some((l) => /^\[1\] \d+$/.test(l)));
    for (let gen = 1; gen <= 2; gen++) {
      await kcheckpoint(s, 2);
      await term.exited;
      term = onTerminal(s, restartCmd(s), shell);
      // Type once both processes are back with the coordinator, as a user
      // types at the restarted shell: their terminal is set up by then.
      await restartedPeers(s, 2);
      // A foreground job first: bash gives it the terminal and takes it back.
      term.type(`/bin/true; echo "gen ${gen} $((x+${gen}))"; jobs\n`);
      await seen(term, () => clean(term.lines).some((l) => l === `gen ${gen} ${41 + gen}`), 20_000);
      await seen(term, () => clean(term.lines).some((l) => /^\[1\]\+ +Running +sleep 300 &$/.test(l)));
    }
    term.type('kill %1; wait %1; echo "killed $?"; exit 7\n');
    const end = await term.exited;
    expect(clean(term.lines)).toContain('killed 143');
    expect(end.code).toBe(7);
  });

  it('an interactive bash job `true | sleep 300 &` whose group leader ended is still one job: jobs and kill %1 reach it after two restarts', async () => {
    s = await session();
    let term = onTerminal(s, launchCmd(s, 'bash --norc --noprofile -i'), shellPath('bash'));
    await seen(term, () => /[#$] $/.test(term.text), 20_000);
    // bash makes the pipeline one group led by `true`, which ends at once.
    term.type('/bin/true | sleep 300 &\n');
    await seen(term, () => clean(term.lines).some((l) => /^\[1\] \d+$/.test(l)));
    term.type('sleep 0.5; echo "leader gone $(ps -o pid= -p $(jobs -p %1) | wc -l)"\n');
    await seen(term, () => clean(term.lines).some((l) => l === 'leader gone 0'));
    for (let gen = 1; gen <= 2; gen++) {
      await kcheckpoint(s, 2);
      await term.exited;
      term = onTerminal(s, restartCmd(s), shellPath('bash'));
      await restartedPeers(s, 2);
      term.type(`echo "gen ${gen}"; jobs\n`);
      await seen(term, () => clean(term.lines).some((l) => l === `gen ${gen}`), 20_000);
      await seen(term, () => clean(term.lines).some((l) => /^\[1\]\+ +Running +\/bin\/true \| sleep 300 &$/.test(l)));
    }
    term.type('kill %1; wait %1; echo "killed $?"; exit 7\n');
    const end = await term.exited;
    expect(clean(term.lines)).toContain('killed 143');
    expect(end.code).toBe(7);
  });

  it('a restart sent to the background with & leaves the terminal to the shell that started it, twice', async () => {
    const bash = shellPath('bash');
    s = await session();
    // The user's own shell on the terminal, not checkpointed; the computation
    // is a counter that prints to that terminal.
    const term = onTerminal(s, `${bash} --norc --noprofile -i`, bash);
    const prompts = (): number => (clean([term.text])[0].match(/[#$] /g) ?? []).length;
    await seen(term, () => prompts() >= 1, 20_000);
    const numbers = (): number[] => clean(term.lines).map((l) => /^(?:.*[#$] )?(\d+)$/.exec(l)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1]));
    term.type(`${launchCmd(s, program('counter'))} 100000\n`);
    await seen(term, () => numbers().length >= 5);
    for (let gen = 1; gen <= 2; gen++) {
      const promptsBefore = prompts();
      await kcheckpoint(s, 1);
      await waitUntil(() => s!.coord.coordinator.list().length === 0);
      if (gen === 1) await seen(term, () => prompts() > promptsBefore);   // the shell has the terminal back
      const counted = numbers().length;
      term.type(`${restartCmd(s)} &\n`);
      await restartedPeers(s, 1);
      await seen(term, () => numbers().length >= counted + 5);
      // The shell still reads the terminal: the restarted job did not take it.
      term.type(`echo "outer $((6*${gen}))"\n`);
      await seen(term, () => clean(term.lines).includes(`outer ${6 * gen}`));
    }
    term.type('kill $!; wait $!; echo "killed $?"; exit 5\n');
    const end = await term.exited;
    expect(clean(term.lines)).toContain('killed 143');
    expect(end.code).toBe(5);
    expect(numbers()).toEqual(oneTo(numbers().length));
  });

  it.skipIf(!vim)('vim stays in raw mode after two restarts and saves what was typed before and after', async () => {
    s = await session();
    const file = path.join(s.dir, 'notes.txt');
    let term = onTerminal(s, launchCmd(s, `vim -u NONE -N -n ${file}`));
    await waitUntil(() => term.text.length > 0);
    await new Promise((r) => setTimeout(r, 500));
    term.type('ihello\x1b');
    for (const word of [' brave', ' new']) {
      await new Promise((r) => setTimeout(r, 400));
      await kcheckpoint(s, 1);
      await term.exited;
      term = onTerminal(s, restartCmd(s));
      await waitUntil(() => (s!.runs.length > 0 && term.text.length > 0) || term.stderr.length > 0, 20_000);
      const stty = await sttyOf(s, 'vim');
      expect(stty).toMatch(/(^|\s)-icanon(\s|$)/);
      expect(stty).toMatch(/(^|\s)-echo(\s|$)/);
      term.type(`A${word}\x1b`);
    }
    term.type('A world\x1b:wq\r');
    const end = await term.exited;
    expect(end.code).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe('hello brave new world\n');
  });
});
