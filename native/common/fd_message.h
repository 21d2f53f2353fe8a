/* One message with room for one descriptor passed along (SCM_RIGHTS), as the
 * resident encoder's protocol uses them both ways (encoder_service.h): the
 * agent's request carries its pipe, the direct-mode answer the image file.
 * Plain struct work, no system calls: the agent (raw syscalls, no libc state)
 * and the addon both use it. */
#ifndef DMTCP_FD_MESSAGE_H
#define DMTCP_FD_MESSAGE_H
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Control buffer size for one descriptor. */
#define FD_MESSAGE_CONTROL CMSG_SPACE(sizeof(int))

/* A message over `iov` whose control part is `control` (FD_MESSAGE_CONTROL bytes). */
static inline void fd_message_init(struct msghdr *msg, struct iovec *iov, char *control) {
  memset(msg, 0, sizeof *msg);
  memset(control, 0, FD_MESSAGE_CONTROL);
  msg->msg_iov = iov;
  msg->msg_iovlen = 1;
  msg->msg_control = control;
  msg->msg_controllen = FD_MESSAGE_CONTROL;
}

/* Attaches `fd` to a message about to be sent. */
static inline void fd_message_attach(struct msghdr *msg, int fd) {
  struct cmsghdr *c = CMSG_FIRSTHDR(msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
}

/* The descriptor a received message carried, or -1. Our peers attach one at
 * most, and the control buffer has room for one: only the first header counts
 * (CMSG_NXTHDR is a libc call the agent avoids). */
static inline int fd_message_received(struct msghdr *msg) {
  int fd = -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(msg);
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

#endif
