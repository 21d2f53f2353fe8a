/* The resident encoder's wire protocol, shared by the agent (client) and the
 * Node addon (service side). docs/encoder-service.md is the prose version.
 *
 * One connection per checkpoint, on a Unix stream socket in a 0700 folder:
 *   agent -> service: one sendmsg carrying the request and, as SCM_RIGHTS, the
 *     read end of a pipe: "DMTCPENC" then the encoder's arguments as
 *     NUL-terminated strings, then one more NUL (an empty string ends the list);
 *   agent -> pipe:    the raw capture stream (docs/raw-stream.md), then close;
 *   service -> agent: one line, "ok\n" or "error: REASON\n", then close.
 *
 * Direct page data (raw images only): the request carries ENCODER_DIRECT_ARG.
 * After the stream's header and metadata the agent waits for a first line,
 * "direct OFFSET\n" with the temporary image file attached (SCM_RIGHTS) (or
 * "error: ..."). It then writes every run's pages into that file itself,
 * sequentially from OFFSET, and in the pipe, where the page data would be, one
 * little-endian u64 per write: the bytes just written. The service reads the
 * pages back from the file (page cache, warm), finds zero pages, hashes, moves
 * what must move, and answers as above. One copy of each page instead of two.
 * Once a chunk had zero pages (everything after it must move down: the image
 * stores no zero pages), the service sends "pipe\n" once, before its answer;
 * the agent, which polls the socket between pieces, sends the rest inline: a
 * notice ENCODER_NOTICE_INLINE | n, then n bytes, in the pipe.
 *
 * Lifetime: the service holds the read end of a "presence" pipe whose write end
 * every process of the computation inherits at ENCODER_PRESENCE_FD. When the
 * last of them has exited, the kernel gives the service end-of-file and it
 * quits; no process has to say goodbye. */
#ifndef DMTCP_ENCODER_SERVICE_H
#define DMTCP_ENCODER_SERVICE_H

#define ENCODER_REQUEST_MAGIC "DMTCPENC"
#define ENCODER_REQUEST_MAGIC_LEN 8
#define ENCODER_REQUEST_MAX 8192      /* magic + arguments; paths are at most PATH_MAX */
#define ENCODER_REPLY_MAX 1024
#define ENCODER_DIRECT_ARG "--direct"
#define ENCODER_REPLY_DIRECT "direct "
#define ENCODER_REPLY_SWITCH_TO_PIPE "pipe\n"
#define ENCODER_NOTICE_INLINE (1ULL << 63)   /* the piece follows in the pipe */
/* Just below the agent's coordinator socket (AGENT_COORD_FD_MIN): a number
 * programs do not use, inherited (no FD_CLOEXEC) by exec'd children. */
#define ENCODER_PRESENCE_FD 819

#endif
