/** The coordinator: server, state, protocol codec and the command client. */
export { startCoordinator, StartOptions, CoordinatorHandle, DEFAULT_BIND_ADDRESS, barrierTimeoutFromEnv } from './server';
export { writeFileAtomic } from './atomic-file';
export { sendCommand, probeCoordinator, CommandReply, NoCoordinatorError, SendOptions } from './client';
export { Coordinator } from './core';
export { encodeMessage, decodeMessage, encodeValue, decodeValue, Message, PROTOCOL_VERSION, LineSplitter } from './codec';
export { StatusInfo, JSON_SCHEMA_VERSION, formatCommandStatus, formatCoordinatorHeader, formatCoordinatorStatus, formatList } from './format';
export { PeerInfo, AgentState } from './registry';
export { STABLE_SCRIPT_NAME, versionedScriptName, renderRestartScript, writeRestartScript, defaultRestartBin } from './restart-script';
export { makeUniqueId, hostId } from './uniqueid';
export { spawnDaemon, isDaemonChild, DAEMON_CHILD_ENV } from './daemon';
export { AfterImages, CheckpointResult, ImageInfo, DEFAULT_BARRIER_TIMEOUT_S } from './barrier';
