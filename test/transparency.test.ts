/**
 * What a program sees of itself stays as it was (issue 11): its own use of
 * the checkpoint signal; the thread identity glibc wrote into mutexes,
 * rwlocks and CPU-time clock ids. Each program checks itself while it is
 * checkpointed, killed and restarted twice.
 */
import { afterEach, describe, it } from 'vitest';
import { program, session, Session } from './helpers/e2e';
import { counted, ranClean, twoRestarts } from './helpers/tree';

let s: Session | undefined;
afterEach(async () => { await s?.close(); s = undefined; });

describe('a program that uses SIGUSR2 itself', () => {
  it('keeps its handler and its mask: its own sends run the handler, held while blocked, across two restarts', async () => {
    s = await session();
    const c = await twoRestarts(s, program('ownusr2'), ['40'], { ready: (l) => counted(l, 'U').length >= 5, processes: 1 });
    ranClean(c, 'U', 40);
  });
});

describe('a program that closes every fd it does not know', () => {
  it('close of 3..1023, close_range, closefrom and syscall(SYS_close_range) leave the agent its fds: checkpoints go on, two restarts', async () => {
    s = await session();
    const c = await twoRestarts(s, program('closeall'), ['40'], { ready: (l) => counted(l, 'C').length >= 6, processes: 1 });
    ranClean(c, 'C', 40);
  });
});

describe('a program that defines a function the agent wraps', () => {
  it('its own gettid() as syscall(SYS_gettid) does not loop through the agent\'s syscall(); two restarts', async () => {
    s = await session();
    const c = await twoRestarts(s, program('owngettid'), ['30'], { ready: (l) => counted(l, 'G').length >= 5, processes: 1 });
    ranClean(c, 'G', 30);
  });
});

describe('thread identity inside glibc', () => {
  it('mutexes of every type and a rwlock held across two restarts are still their owner\'s; a timed waiter gets its mutex; CPU-time clocks work', async () => {
    s = await session();
    const c = await twoRestarts(s, program('owners'), ['40'], { ready: (l) => counted(l, 'O').length >= 5, processes: 1 });
    ranClean(c, 'O', 40);
  });
});

describe('calls that take a pid or tid', () => {
  it('sched_*affinity, sched_get*, get/setpriority, prlimit, ioprio_get and pidfd_open take the pid and tids the program knows, across two restarts', async () => {
    s = await session();
    const c = await twoRestarts(s, program('pidargs'), ['30'], { ready: (l) => counted(l, 'P').length >= 5, processes: 1 });
    ranClean(c, 'P', 30);
  });
});
