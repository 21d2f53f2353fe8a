/** execvp's search, done in TypeScript because the addon execs by path. */
import * as fs from 'fs';
import * as path from 'path';

function isExecutableFile(file: string): boolean {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The absolute path of `name` as a shell would run it, or undefined. */
export function resolveProgram(name: string, envPath = process.env.PATH ?? '/usr/bin:/bin'): string | undefined {
  if (name.includes('/')) return isExecutableFile(name) ? path.resolve(name) : undefined;
  for (const dir of envPath.split(':')) {
    const candidate = path.resolve(dir || '.', name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}
