/**
 * Finds the native parts built by `npm install` (node-gyp): the addon, the agent
 * library and the restorer. A missing build is one clear line telling how to fix it.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { NativeAddon } from './native';

/** dist/native/ → the package root. */
export const PACKAGE_ROOT = path.resolve(__dirname, '../..');
const BUILD_DIR = path.join(PACKAGE_ROOT, 'build', 'Release');

export const AGENT_LIBRARY = path.join(BUILD_DIR, 'libdmtcp.so');
export const RESTORER = path.join(BUILD_DIR, 'mtcp_restart');
/** Listens for the resident encoder and starts it at the first checkpoint (native/encoder_wait/). */
export const ENCODER_WAIT = path.join(BUILD_DIR, 'dmtcp_encoder_wait');
export const ENCODER_SCRIPT = path.join(PACKAGE_ROOT, 'dist', 'image', 'encoder-main.js');
const ADDON = path.join(BUILD_DIR, 'dmtcp_native.node');

export class MissingBuildError extends Error {}

export function mustExist(file: string): string {
  if (!fs.existsSync(file)) {
    throw new MissingBuildError(
      `${path.relative(PACKAGE_ROOT, file)} is missing: run 'npm install' (or 'npm run build') in ${PACKAGE_ROOT}`,
    );
  }
  return file;
}

let addon: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  if (!addon) addon = require(mustExist(ADDON)) as NativeAddon;
  return addon;
}

/** Paths the agent needs at checkpoint time, checked up front. */
export function nativeParts(): { agent: string; restorer: string; encoder: string } {
  return { agent: mustExist(AGENT_LIBRARY), restorer: mustExist(RESTORER), encoder: mustExist(ENCODER_SCRIPT) };
}
