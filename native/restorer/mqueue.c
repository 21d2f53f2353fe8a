/* POSIX message queues at restart (planned by src/restart/mqueue.ts): the
 * queue is made anew under its name, a queue of that name left by the killed
 * computation removed first, with the attributes and the messages the image
 * carried, before any process runs; every holder's agent opens it by name
 * (native/agent/fds/mqueue.c). */
#include "mqueue.h"
#include "util.h"

#define NR_mq_open 240
#define NR_mq_unlink 241
#define NR_mq_timedsend 242
#define O_CREAT 0100
#define O_EXCL 0200
#define O_NONBLOCK 04000
#define MQ_NAME_MAX 255

struct kernel_mq_attr { long flags, maxmsg, msgsize, curmsgs, pad[4]; };

void mqueue_make(const char *blob) {
  uint32_t head[4];
  r_memcpy(head, blob, sizeof head);
  char name[MQ_NAME_MAX + 1];
  uint32_t nlen = head[3] < MQ_NAME_MAX ? head[3] : MQ_NAME_MAX;
  r_memcpy(name, blob + 16, nlen);
  name[nlen] = 0;
  const char *m = blob + 16 + head[3];
  sys1(NR_mq_unlink, name);
  struct kernel_mq_attr attr;
  r_memset(&attr, 0, sizeof attr);
  attr.maxmsg = head[0];
  attr.msgsize = head[1];
  long q = sys4(NR_mq_open, name, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK | O_CLOEXEC, head[2], &attr);
  if (q < 0) { r_say("cannot make a message queue again:", name, 0, 0); return; }
  uint32_t count;
  r_memcpy(&count, m, 4);
  m += 4;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t len, prio;
    r_memcpy(&len, m, 4);
    r_memcpy(&prio, m + 4, 4);
    if (sys5(NR_mq_timedsend, q, m + 8, len, prio, 0) < 0) r_say("a message did not fit back in its queue:", name, 0, 0);
    m += 8 + len;
  }
  sys1(NR_close, q);
}
