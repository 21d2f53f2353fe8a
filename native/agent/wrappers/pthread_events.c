/* The thread events of DMTCP 5's plugin interface (docs/api.md): in a thread
 * the program made with pthread_create, DMTCP_EVENT_PTHREAD_START before its
 * start routine runs and DMTCP_EVENT_PTHREAD_RETURN after it returned; and
 * DMTCP_EVENT_PTHREAD_EXIT in a thread that calls pthread_exit. The agent
 * finds threads without this wrapper (threads.c reads /proc/self/task): with
 * no plugin loaded pthread_create goes straight to libc's. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include "agent.h"
#include "dmtcp.h"

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

struct start { void *(*fn)(void *); void *arg; };

int agent_real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
  static create_fn real;
  if (!real) real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
  return real(t, attr, fn, arg);
}

static void *started(void *p) {
  struct start s = *(struct start *)p;
  free(p);
  plugins_event(DMTCP_EVENT_PTHREAD_START, 0);
  void *result = s.fn(s.arg);
  plugins_event(DMTCP_EVENT_PTHREAD_RETURN, 0);
  return result;
}

AGENT_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
  if (!plugins_loaded()) return agent_real_pthread_create(t, attr, fn, arg);
  struct start *s = malloc(sizeof *s);
  if (!s) return agent_real_pthread_create(t, attr, fn, arg);
  s->fn = fn;
  s->arg = arg;
  int r = agent_real_pthread_create(t, attr, started, s);
  if (r != 0) free(s);
  return r;
}

typedef void (*exit_fn)(void *) __attribute__((noreturn));

AGENT_EXPORT void pthread_exit(void *result) {
  static exit_fn real;
  if (!real) real = (exit_fn)dlsym(RTLD_NEXT, "pthread_exit");
  plugins_event(DMTCP_EVENT_PTHREAD_EXIT, 0);
  real(result);
}
