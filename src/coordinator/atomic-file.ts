/** A port file, a restart script: written whole or not at all (its own module: dmtcp_launch loads no coordinator for it). */
import * as fs from 'fs';
import * as path from 'path';

/** Write a file under a temporary name and rename it: readers never see it half-written. */
export async function writeFileAtomic(file: string, data: string, mode = 0o644): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await fs.promises.writeFile(tmp, data, { mode });
  await fs.promises.rename(tmp, file);
}
