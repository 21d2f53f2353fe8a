/* Raw system calls for the restorer: it has no libc, and while it works the old
 * libc is not mapped yet. Every call returns the kernel's value (-errno on error). */
#ifndef RESTORER_SYS_H
#define RESTORER_SYS_H
#include <stdint.h>
#include <stddef.h>

#include "../common/raw_syscall.h"

#define sys6(n, a, b, c, d, e, f) raw_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))
#define sys0(n) rsys0(n)
#define sys1(n, a) rsys1(n, a)
#define sys2(n, a, b) rsys2(n, a, b)
#define sys3(n, a, b, c) rsys3(n, a, b, c)
#define sys4(n, a, b, c, d) rsys4(n, a, b, c, d)
#define sys5(n, a, b, c, d, e) rsys5(n, a, b, c, d, e)

#define NR_read 0
#define NR_write 1
#define NR_open 2
#define NR_close 3
#define NR_fstat 5
#define NR_mmap 9
#define NR_mprotect 10
#define NR_munmap 11
#define NR_brk 12
#define NR_rt_sigprocmask 14
#define NR_pread64 17
#define NR_mremap 25
#define NR_getpid 39
#define NR_rt_sigaction 13
#define NR_fork 57
#define NR_kill 62
#define NR_prlimit64 302
#define RLIMIT_CORE 4
#define NR_wait4 61
#define WAIT_ALL_CHILDREN 0x40000000   /* __WALL */
#define SIG_CHLD 17
#define SIG_IGNORE ((void *)1)
#define NR_setpgid 109
#define NR_getpgid 121
#define NR_setsid 112
#define NR_getsid 124
#define NR_futex 202
#define NR_execveat 322
#define NR_exit_group 231
#define NR_personality 135
#define NR_openat 257
#define NR_ioctl 16

#define O_RDONLY 0
#define O_RDWR 2
#define O_CLOEXEC 02000000
#define O_NOCTTY 0400
#define TIOCGPGRP 0x540F
#define AT_FDCWD -100
#define AT_EMPTY_PATH 0x1000
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1

#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4
#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_GROWSDOWN 0x100
#define MAP_NORESERVE 0x4000
#define MAP_FIXED_NOREPLACE 0x100000
#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#define ADDR_NO_RANDOMIZE 0x0040000

#define PAGE_SIZE 4096UL

/* struct stat as the x86_64 kernel fills it; we need only st_size. */
struct kstat {
  uint64_t st_dev, st_ino, st_nlink;
  uint32_t st_mode, st_uid, st_gid, pad0;
  uint64_t st_rdev;
  int64_t st_size, st_blksize, st_blocks;
  uint64_t times[6];
  int64_t unused[3];
};

#endif
