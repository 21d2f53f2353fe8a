/**
 * Is this process in the foreground of its terminal? A coordinator started with `&`
 * must not read its terminal: the kernel would stop the whole process (SIGTTIN) and
 * with it every checkpoint. /proc/self/stat gives our process group and the
 * terminal's foreground group (Node has no tcgetpgrp).
 */
import * as fs from 'fs';

export function inForeground(): boolean {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    // Fields after "(comm)": state ppid pgrp session tty_nr tpgid ...
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(f[2]);
    const tpgid = Number(f[5]);
    return !(tpgid > 0) || tpgid === pgrp;
  } catch {
    return true;
  }
}
