// The resident encoder's constants on the TypeScript side; the C side reads
// native/common/encoder_service.h, which explains the protocol.

/** Where every process of the computation holds the presence pipe's write end. */
export const ENCODER_PRESENCE_FD = 819;
/** Where the service finds the presence pipe's read end (service.cc puts it there). */
export const SERVICE_PRESENCE_FD = 3;
/** The variable that tells the agent where the service listens. */
export const ENCODER_SOCKET_ENV = 'DMTCP_ENCODER_SOCKET';
/** The restart-info key with the same meaning after a restart (docs/restore-plan.md). */
export const ENCODER_SOCKET_INFO_KEY = 'encoder_socket';
/** The service's pid, written next to its socket by the launcher (start.ts sweeps stale folders with it). */
export const SERVICE_PID_FILE = 'service.pid';
/** sun_path is 108 bytes with its NUL. */
export const MAX_SOCKET_PATH = 107;

/** The one-line replies, as the agent parses them. */
export const REPLY_OK = 'ok\n';
export const replyError = (reason: string): string => `error: ${reason.replace(/\n/g, ' ')}\n`;

/**
 * Direct page data (raw images): the agent adds this argument to its request,
 * and once the stream's metadata has arrived the service answers
 * `direct OFFSET\n` with the temporary image file attached; the agent then
 * writes its pages into that file itself from OFFSET on, and in the pipe, where
 * page data would be, sends notices (src/image/direct.ts). `pipe\n` (at most
 * once, any time before the answer) asks it to send the rest inline.
 * docs/encoder-service.md.
 */
export const DIRECT_ARG = '--direct';
export const replyDirect = (dataStart: number): string => `direct ${dataStart}\n`;
export const REPLY_SWITCH_TO_PIPE = 'pipe\n';
