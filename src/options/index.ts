/** Shared command-line parsing for every dmtcp CLI. */
export { UsageError, failRc, errorLine, DEFAULT_FAIL_RC } from './errors';
export { OptSpec, OptKind, ParseResult, parseArgv, parseIntStrict, renderOptions, envFirst } from './parser';
export {
  CoordMode, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_CKPT_SIGNAL, ENV_HOST, ENV_PORT, ENV_CKPT_DIR, ENV_INTERVAL,
  ENV_GZIP, ENV_SIGNAL, ENV_TMPDIR,
} from './common';
export { LaunchOptions, parseLaunchArgs, LAUNCH_SPECS } from './launch';
export { RestartOptions, parseRestartArgs, RESTART_SPECS } from './restart';
export { CommandName, COMMAND_NAMES, CommandOptions, parseCommandArgs } from './command';
export { CoordinatorOptions, parseCoordinatorArgs, DEFAULT_BIND } from './coordinator';
export {
  launchHelp, restartHelp, commandHelp, coordinatorHelp, COORDINATOR_KEYS_HELP, versionText, packageVersion,
} from './help';
