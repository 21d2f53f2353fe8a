/* Writing an image: stream this process's memory to the encoder.
 *
 * The agent does no encoding. It writes the raw capture stream
 * (docs/raw-stream.md) into a pipe: a JSON header, then every area of
 * /proc/self/maps with the pages it holds. The pipe leads to the computation's
 * resident encoder (encoder_link.c) when there is one; otherwise to an encoder
 * (node + codec.wasm) started for this checkpoint as a clone child that the
 * program cannot see (exit signal 0: no SIGCHLD, invisible to wait(-1)).
 * For raw images the resident encoder hands us its temporary file and we write
 * our pages into it ourselves (direct mode, encoder_service.h): the records
 * still go through the pipe, the pages do not.
 * The encoder writes a temporary file and renames it only when the stream ended
 * well, so a failed checkpoint never replaces a good image. */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "agent.h"
#include "meta_json.h"
#include "raw_syscall.h"
#include "raw_stream_format.h"
#include "plan_format.h"
#include "encoder_service.h"

#define PAGE 4096UL
#define MAPS_BUF_SIZE (16UL << 20)       /* /proc/self/maps text, reserved not touched */
#define MAX_RUNS (1UL << 20)             /* data runs per area before falling back to one */
#define PAGEMAP_BATCH 4096               /* pagemap entries read at once */
#define PIPE_SIZE (1 << 20)
#define WRITE_CHUNK (1UL << 20)
#define ENCODER_STACK_SIZE (64 * 1024)
#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)

static char *maps_buf;
static struct raw_run *runs;
static uint64_t pagemap_batch[PAGEMAP_BATCH];
static const char zero_page[PAGE];
static char encoder_stack[ENCODER_STACK_SIZE] __attribute__((aligned(16)));

struct area {
  uint64_t start, end, offset;
  uint32_t prot, flags;
  const char *name;
  size_t name_len;
  int from_image;   /* mapped from the image we restarted from (see below) */
};

/* A restart maps a raw image's memory from the image file, private and
 * copy-on-write (docs/restore-plan.md): to the kernel such an area is a file
 * mapping, to the program it is its own anonymous memory. It is saved as such,
 * every page of it: pages the program has not touched since are still in the
 * file, and the pagemap shows them as absent. */
static int mapped_from_image(const char *dev, uint64_t inode) {
  if (!agent.image_map_ino || inode != agent.image_map_ino) return 0;
  const char *p;
  uint64_t major = agent_parse_u64(dev, 16, &p);
  if (*p != ':') return 0;
  uint64_t minor = agent_parse_u64(p + 1, 16, 0);
  return major == agent.image_map_major && minor == agent.image_map_minor;
}

static void *reserve(size_t len) {
  void *p = (void *)rsys6(SYS_mmap, 0, len, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return ((long)p < 0 && (long)p > -4096) ? 0 : p;
}

static int ensure_buffers(void) {
  if (!maps_buf) maps_buf = reserve(MAPS_BUF_SIZE);
  if (!runs) runs = reserve(MAX_RUNS * sizeof *runs);
  return maps_buf && runs ? 0 : -ENOMEM;
}

/* ---- /proc/self/maps ---- */

static int parse_area(char *line, struct area *a) {
  const char *p;
  a->start = agent_parse_u64(line, 16, &p);
  a->end = agent_parse_u64(p + 1, 16, &p);
  while (*p == ' ') p++;
  const char *perms = p;
  a->prot = (perms[0] == 'r' ? 1 : 0) | (perms[1] == 'w' ? 2 : 0) | (perms[2] == 'x' ? 4 : 0);
  a->flags = perms[3] == 's' ? AREA_SHARED : 0;
  p += 4;
  while (*p == ' ') p++;
  a->offset = agent_parse_u64(p, 16, &p);
  while (*p == ' ') p++;
  const char *dev = p;
  while (*p && *p != ' ') p++;
  while (*p == ' ') p++;
  uint64_t inode = agent_parse_u64(p, 10, &p);
  while (*p == ' ') p++;
  a->name = p;
  a->name_len = strlen(p);
  a->from_image = !(a->flags & AREA_SHARED) && mapped_from_image(dev, inode);
  if (a->from_image) {
    a->name = "";
    a->name_len = 0;
    a->offset = 0;
  }
  if (a->name[0] != '/') a->flags |= AREA_ANON;
  if (inode == 0 && a->name[0] == '/') a->flags |= AREA_ANON;   /* e.g. /dev/zero (deleted) */
  if (!strcmp(a->name, "[stack]")) a->flags |= AREA_STACK;
  if (!strcmp(a->name, "[heap]")) a->flags |= AREA_HEAP;
  if (!strcmp(a->name, "[vdso]")) a->flags |= AREA_VDSO | AREA_NODATA;
  if (!strncmp(a->name, "[vvar", 5)) a->flags |= AREA_VVAR | AREA_NODATA;
  if (a->name_len > 10 && !strcmp(a->name + a->name_len - 10, " (deleted)")) a->flags |= AREA_DELETED;
  if ((a->flags & AREA_SHARED) && !(a->flags & AREA_ANON) && (a->prot & 2))
    a->flags |= AREA_FILE_SHARED_WRITABLE;
  if (!(a->prot & 1)) a->flags |= AREA_NODATA;
  return strcmp(a->name, "[vsyscall]") != 0;   /* the vsyscall page is the kernel's */
}

/* ---- which pages hold data ---- */

/* Private anonymous memory that was never touched reads as zero: the pagemap says
 * which pages are present or swapped, and only those are streamed. */
static uint32_t find_runs(int pagemap_fd, const struct area *a, uint64_t *data_len) {
  uint64_t npages = (a->end - a->start) / PAGE;
  int use_pagemap = pagemap_fd >= 0 && (a->flags & AREA_ANON) && !(a->flags & AREA_SHARED) && !a->from_image;
  if (!use_pagemap) {
    runs[0].offset = 0;
    runs[0].len = a->end - a->start;
    *data_len = runs[0].len;
    return 1;
  }
  uint32_t n = 0;
  uint64_t total = 0;
  for (uint64_t first = 0; first < npages; first += PAGEMAP_BATCH) {
    uint64_t count = npages - first < PAGEMAP_BATCH ? npages - first : PAGEMAP_BATCH;
    uint64_t vpn = a->start / PAGE + first;
    long got = rsys4(SYS_pread64, pagemap_fd, pagemap_batch, count * 8, vpn * 8);
    if (got != (long)(count * 8)) goto whole_area;
    for (uint64_t i = 0; i < count; i++) {
      if (!(pagemap_batch[i] & (PM_PRESENT | PM_SWAPPED))) continue;
      uint64_t off = (first + i) * PAGE;
      if (n && runs[n - 1].offset + runs[n - 1].len == off) {
        runs[n - 1].len += PAGE;
      } else {
        if (n == MAX_RUNS) goto whole_area;
        runs[n].offset = off;
        runs[n].len = PAGE;
        n++;
      }
      total += PAGE;
    }
  }
  *data_len = total;
  return n;
whole_area:
  runs[0].offset = 0;
  runs[0].len = a->end - a->start;
  *data_len = runs[0].len;
  return 1;
}

/* Page data goes into the pipe with vmsplice: the kernel puts references to our
 * pages in the pipe instead of copying them, and the encoder's read() makes the
 * one copy (into its wasm memory). That is safe because nothing changes these
 * pages until the encoder has read them all: the program's threads are parked,
 * and we wait for the encoder's answer, which comes after the end of the stream,
 * before anything resumes. (Only this thread's scratch buffers and deeper stack
 * frames change meanwhile; none of them is state a restart uses.)
 * A page that cannot be read (a file mapping past its file's end) fails with
 * EFAULT: send zeros for it. Where vmsplice is refused (a seccomp filter, say),
 * write() copies instead. */
static long stream_memory(int fd, uint64_t addr, uint64_t len) {
  static int copy_only;
  while (len > 0) {
    uint64_t chunk = len < WRITE_CHUNK ? len : WRITE_CHUNK;
    long n;
    if (!copy_only) {
      struct iovec iov = { (void *)addr, chunk };
      n = rsys4(SYS_vmsplice, fd, &iov, 1, 0);
      if (n == -ENOSYS || n == -EPERM || n == -EINVAL) { copy_only = 1; continue; }
    } else {
      n = rsys3(SYS_write, fd, addr, chunk);
    }
    if (n == -EINTR) continue;
    if (n == -EFAULT) {
      uint64_t page_left = PAGE - (addr % PAGE);
      if (page_left > len) page_left = len;
      long z = agent_write_all(fd, zero_page, page_left);
      if (z < 0) return z;
      addr += page_left;
      len -= page_left;
      continue;
    }
    if (n <= 0) return n < 0 ? n : -EIO;
    addr += (uint64_t)n;
    len -= (uint64_t)n;
  }
  return 0;
}

/* Where the stream goes: the pipe and, in direct mode, page data straight into
 * the image file the resident encoder handed us (encoder_service.h). */
struct stream_out {
  int pipe;
  int conn;          /* direct mode asked for: the service connection, else -1 */
  int image;         /* direct mode granted: the image file, else -1 */
  uint64_t pos;      /* where our next page goes in it */
  int inline_data;   /* the service asked for the rest in the pipe */
  long write_error;  /* a pwrite into the image failed (e.g. -ENOSPC): our reason, not the service's */
};

/* Direct mode: our pages go into the image file with pwrite, which is the one
 * copy they need (a pipe would cost the encoder a second one); after each
 * write a notice in the pipe says how many bytes it was. Between writes we
 * look (without blocking) whether the service asked for the rest inline: it
 * does once zero pages made it move data down, where the pipe is cheaper.
 * An unreadable page (EFAULT; pwrite stops short just before it) is written
 * as zeros, as stream_memory sends it. */
static long direct_pages(struct stream_out *o, uint64_t addr, uint64_t len) {
  while (len > 0) {
    uint64_t piece = len < WRITE_CHUNK ? len : WRITE_CHUNK;
    if (!o->inline_data && encoder_link_switched(o->conn)) o->inline_data = 1;
    long r;
    if (o->inline_data) {
      uint64_t notice = piece | ENCODER_NOTICE_INLINE;
      if ((r = agent_write_all(o->pipe, &notice, sizeof notice)) < 0) return r;
      if ((r = stream_memory(o->pipe, addr, piece)) < 0) return r;
    } else {
      long n = rsys4(SYS_pwrite64, o->image, addr, piece, o->pos);
      if (n == -EINTR) continue;
      if (n == -EFAULT) {
        uint64_t page_left = PAGE - (addr % PAGE);
        n = rsys4(SYS_pwrite64, o->image, zero_page, page_left < len ? page_left : len, o->pos);
      }
      if (n <= 0) return o->write_error = n < 0 ? n : -EIO;
      piece = (uint64_t)n;
      uint64_t notice = piece;
      if ((r = agent_write_all(o->pipe, &notice, sizeof notice)) < 0) return r;
      o->pos += piece;
    }
    addr += piece;
    len -= piece;
  }
  return 0;
}

static long stream_pages(struct stream_out *o, uint64_t addr, uint64_t len) {
  return o->image >= 0 ? direct_pages(o, addr, len) : stream_memory(o->pipe, addr, len);
}

static long stream_area(struct stream_out *o, int pagemap_fd, const struct area *a) {
  int fd = o->pipe;
  struct raw_area_record rec;
  memset(&rec, 0, sizeof rec);
  memcpy(rec.tag, "AREA\0\0\0\0", 8);
  rec.start = a->start;
  rec.end = a->end;
  rec.file_offset = a->offset;
  rec.prot = a->prot;
  rec.flags = a->flags;
  rec.name_len = (uint32_t)a->name_len;
  uint64_t data_len = 0;
  uint32_t nruns = (a->flags & AREA_NODATA) ? 0 : find_runs(pagemap_fd, a, &data_len);
  rec.nruns = nruns;
  rec.data_len = data_len;
  long r;
  if ((r = agent_write_all(fd, &rec, sizeof rec)) < 0) return r;
  size_t padded = (a->name_len + 7) & ~7UL;
  if ((r = agent_write_all(fd, a->name, a->name_len)) < 0) return r;
  if (padded > a->name_len && (r = agent_write_all(fd, zero_page, padded - a->name_len)) < 0) return r;
  if (nruns && (r = agent_write_all(fd, runs, nruns * sizeof *runs)) < 0) return r;
  for (uint32_t i = 0; i < nruns; i++)
    if ((r = stream_pages(o, a->start + runs[i].offset, runs[i].len)) < 0) return r;
  return 0;
}

/* ---- the encoder process ---- */

struct encoder_launch {
  int pipe_read;
  const char *argv[10];
  const char *envp[4];
};

static int encoder_child(void *arg) {
  struct encoder_launch *l = arg;
  uint64_t none = 0;
  rsys3(SYS_dup2, l->pipe_read, 0, 0);
  rsys3(SYS_close_range, 3, ~0U, 0);
  rsys4(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, 8);
  rsys3(SYS_execve, l->argv[0], l->argv, l->envp);
  rsys1(SYS_exit_group, 127);
  return 127;
}

/* The encoder's arguments (src/image/encoder-args.ts), NULL-terminated, with
 * room for the service's ENCODER_DIRECT_ARG. */
#define ENCODER_ARGS_MAX 8
static void encoder_args(const char *final_path, const char **args) {
  args[0] = "--out";
  args[1] = final_path;
  args[2] = agent.config.gzip ? "--gzip" : "--no-gzip";
  args[3] = agent.config.hbict ? "--hbict" : "--no-hbict";
  args[4] = agent.config.fsync ? "--fsync" : "--no-fsync";
  args[5] = 0;
}

static pid_t spawn_encoder(int pipe_read, const char *const *args) {
  static struct encoder_launch l;
  l.pipe_read = pipe_read;
  l.argv[0] = agent.config.node_path;
  l.argv[1] = agent.config.encoder_path;
  int n = 2;
  for (; *args && n < (int)(sizeof l.argv / sizeof l.argv[0]) - 1; args++) l.argv[n++] = *args;
  l.argv[n] = 0;
  l.envp[0] = "PATH=/usr/local/bin:/usr/bin:/bin";
  l.envp[1] = agent.config.gzip_engine_env[0] ? agent.config.gzip_engine_env : 0;   /* the user's choice of deflate engine */
  l.envp[2] = 0;
  /* CLONE_VM|CLONE_VFORK: no copy of our address space; we wait until it execs.
   * Exit signal 0: the program never gets a SIGCHLD for it. */
  return agent_libc_clone(encoder_child, encoder_stack + ENCODER_STACK_SIZE, CLONE_VM | CLONE_VFORK, &l);
}

static void say_why(char *why, size_t size, const char *what, long err) {
  char *e = why + agent_strlcpy(why, what, size);
  if (err && (size_t)(e - why) + 24 < size) {
    e += agent_strlcpy(e, " (errno ", size - (size_t)(e - why));
    e = agent_fmt_u64(e, (uint64_t)(err < 0 ? -err : err), 10);
    agent_strlcpy(e, ")", size - (size_t)(e - why));
  }
}

/* The whole stream: header, metadata, every area with its pages, END. The maps
 * text is parsed in place and put back as it was, so a second attempt can
 * stream again. Direct mode starts once the service, which has read the
 * metadata, hands over the image file. */
static long stream_image(struct stream_out *o, const char *meta, size_t meta_len) {
  int out = o->pipe;
  int pagemap_fd = (int)rsys3(SYS_open, "/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
  struct raw_stream_header h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, RAW_MAGIC, 8);
  h.version = RAW_VERSION;
  h.meta_len = (uint32_t)meta_len;
  long r = agent_write_all(out, &h, sizeof h);
  if (r >= 0) r = agent_write_all(out, meta, meta_len);
  if (r >= 0 && o->conn >= 0) r = encoder_link_await_direct(o->conn, &o->image, &o->pos);

  char *line = maps_buf;
  while (r >= 0 && *line) {
    char *eol = strchr(line, '\n');
    if (eol) *eol = 0;
    struct area a;
    if (parse_area(line, &a)) r = stream_area(o, pagemap_fd, &a);
    if (!eol) break;
    *eol = '\n';
    line = eol + 1;
  }
  if (r >= 0) {
    struct raw_end_record end;
    memset(&end, 0, sizeof end);
    memcpy(end.tag, "END\0\0\0\0\0", 8);
    r = agent_write_all(out, &end, sizeof end);
  }
  if (pagemap_fd >= 0) rsys1(SYS_close, pagemap_fd);
  return r < 0 ? r : 0;
}

enum write_outcome { WRITTEN = 0, FAILED = 1, NO_SERVICE = -1 };

/* Through the computation's resident encoder. NO_SERVICE when it cannot be
 * reached or vanished without an answer: the caller then starts an encoder of
 * its own (our memory is still frozen, so the stream can be sent again). */
static enum write_outcome write_with_service(const char *const *args, int direct, const char *meta, size_t meta_len,
                                             char *why, size_t why_size) {
  int conn;
  int out = encoder_link_open(args, &conn);
  if (out < 0) return NO_SERVICE;
  struct stream_out o = { .pipe = out, .conn = direct ? conn : -1, .image = -1 };
  long r = stream_image(&o, meta, meta_len);
  rsys1(SYS_close, out);
  if (o.image >= 0) rsys1(SYS_close, o.image);
  int answer = encoder_link_finish(conn, why, why_size);
  if (o.write_error) {
    /* The service then only saw the stream end early; the cause is ours. */
    say_why(why, why_size, "writing the image file failed", o.write_error);
    agent_say(why);
    return FAILED;
  }
  if (answer < 0) return NO_SERVICE;
  if (answer > 0) { agent_say(why); return FAILED; }
  if (r < 0) { say_why(why, why_size, "writing the image stream failed", r); return FAILED; }
  return WRITTEN;
}

/* Through an encoder started for this checkpoint alone. */
static enum write_outcome write_with_own_encoder(const char *const *args, const char *meta, size_t meta_len,
                                                 char *why, size_t why_size) {
  int fds[2];
  long r = rsys2(SYS_pipe2, fds, O_CLOEXEC);
  if (r < 0) { say_why(why, why_size, "cannot create a pipe", r); return FAILED; }
  rsys3(SYS_fcntl, fds[1], F_SETPIPE_SZ, PIPE_SIZE);
  pid_t child = spawn_encoder(fds[0], args);
  rsys1(SYS_close, fds[0]);
  if (child < 0) {
    rsys1(SYS_close, fds[1]);
    say_why(why, why_size, "cannot start the image encoder", errno);
    return FAILED;
  }
  struct stream_out o = { .pipe = fds[1], .conn = -1, .image = -1 };
  r = stream_image(&o, meta, meta_len);
  rsys1(SYS_close, fds[1]);

  int status = 0;
  long w;
  do { w = rsys4(SYS_wait4, child, &status, __WALL, 0); } while (w == -EINTR);
  if (r < 0) { say_why(why, why_size, "writing the image stream failed", r); return FAILED; }
  if (w < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    say_why(why, why_size, "the image encoder failed; exit status", WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status));
    return FAILED;
  }
  return WRITTEN;
}

/* What a checkpoint reads of the live process before its pages are streamed:
 * the metadata and /proc/self/maps. Split from the streaming so that a forked
 * checkpoint (forked_ckpt.c) takes both in the program's process, before the
 * fork, and its child only streams. */
static const char *prepared_meta;
static size_t prepared_meta_len;

int capture_prepare(char *why, size_t why_size) {
  if (ensure_buffers() < 0) { say_why(why, why_size, "no memory for capture buffers", 0); return -1; }
  /* Build the metadata before reading the maps: its buffer must be an area of the
   * image, or the restarted process would find its pointer dangling. */
  prepared_meta = meta_json_build(&prepared_meta_len);
  int maps_len = agent_read_file("/proc/self/maps", maps_buf, MAPS_BUF_SIZE);
  if (maps_len <= 0) { say_why(why, why_size, "cannot read /proc/self/maps", maps_len); return -1; }
  return 0;
}

const char *capture_maps_text(void) { return maps_buf; }

int capture_stream_prepared(const char *final_path, char *why, size_t why_size) {
  const char *meta = prepared_meta;
  size_t meta_len = prepared_meta_len;
  const char *args[ENCODER_ARGS_MAX];
  encoder_args(final_path, args);
  /* The service has its own working directory: it needs an absolute path. */
  if (agent.config.encoder_socket[0] && final_path[0] == '/') {
    /* Raw images without HBICT: our pages go into the file directly (a delta
     * stores few of them, a gzip image none as they are). */
    const char *service_args[ENCODER_ARGS_MAX];
    int direct = !agent.config.gzip && !agent.config.hbict;
    int n = 0;
    for (; args[n]; n++) service_args[n] = args[n];
    if (direct) service_args[n++] = ENCODER_DIRECT_ARG;
    service_args[n] = 0;
    enum write_outcome o = write_with_service(service_args, direct, meta, meta_len, why, why_size);
    if (o != NO_SERVICE) return o == WRITTEN ? 0 : -1;
  }
  return write_with_own_encoder(args, meta, meta_len, why, why_size) == WRITTEN ? 0 : -1;
}

int capture_write_image(const char *final_path, char *why, size_t why_size) {
  if (capture_prepare(why, why_size) < 0) return -1;
  return capture_stream_prepared(final_path, why, why_size);
}
