/**
 * Our include/dmtcp.h declares every public name of DMTCP 5's dmtcp.h
 * (test/data/dmtcp5-names.txt, the names as data: functions, macros, types,
 * enumerators), so programs and plugins written against DMTCP 5 build with
 * ours unchanged. A C file that uses each name in the way its kind allows is
 * compiled, as C and as C++, linked and run without the agent.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';

const ROOT = path.resolve(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dmtcp-names-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const names = fs.readFileSync(path.join(ROOT, 'test/data/dmtcp5-names.txt'), 'utf8')
  .split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(' ') as [string, string]);

/** One use per name; a missing one is a compile error that names it. */
function useOfEach(): string {
  const top: string[] = ['#include <dmtcp.h>', '#include <stdio.h>'];
  const body: string[] = [];
  names.forEach(([kind, name], i) => {
    if (kind === 'macro') top.push(`#ifndef ${name}`, `#error "dmtcp.h lacks the macro ${name}"`, '#endif');
    else if (kind === 'type') top.push(`static ${name} *use_${i} = 0;`);
    else if (kind === 'enumtag') top.push(`static enum ${name} *use_${i} = 0;`);
    else if (kind === 'function') body.push(`  uses += (void *)&${name} != 0;`);
    else body.push(`  uses += (long)(${name}) != -12345;`);
  });
  const types = names.map(([kind], i) => (kind === 'type' || kind === 'enumtag' ? `  uses += use_${i} == 0;` : '')).filter(Boolean);
  return [...top, 'int main(void) {', '  long uses = 0;', ...body, ...types, `  printf("%ld\\n", uses);`, '  return 0;', '}', ''].join('\n');
}

describe('dmtcp.h against DMTCP 5', () => {
  it('lists over a hundred names of every kind', () => {
    expect(names.length).toBeGreaterThan(120);
    for (const kind of ['function', 'macro', 'type', 'constant']) expect(names.some(([k]) => k === kind), kind).toBe(true);
  });

  for (const [lang, compiler, file] of [['C', 'gcc', 'names.c'], ['C++', 'g++', 'names.cc']] as const) {
    it(`declares every one of them (${lang}), and the program that uses them runs without the agent`, () => {
      const src = path.join(tmp, file);
      fs.writeFileSync(src, useOfEach());
      const exe = path.join(tmp, `names-${compiler}`);
      const cc = spawnSync(compiler, ['-Wall', '-I', path.join(ROOT, 'include'), '-o', exe, src], { encoding: 'utf8' });
      const missing = [...cc.stderr.matchAll(/(?:lacks the macro|'|‘)(\w+)(?:'|’)? (?:was not declared|undeclared)|lacks the macro (\w+)/g)].map((m) => m[1] ?? m[2]);
      expect(cc.status, `${compiler} failed${missing.length ? `; missing: ${missing.join(' ')}` : ''}:\n${cc.stderr.slice(0, 3000)}`).toBe(0);
      const run = spawnSync(exe, [], { encoding: 'utf8' });
      expect(run.status).toBe(0);
      expect(Number(run.stdout.trim())).toBeGreaterThan(0);
    });
  }
});
