/* A system call without libc: no errno, no cancellation point, no locks.
 * Returns the kernel's value (-errno on failure). Used where libc may be unusable:
 * inside signal handlers, while other threads are frozen holding libc locks, and
 * before TLS is set up again on restart. */
#ifndef DMTCP_RAW_SYSCALL_H
#define DMTCP_RAW_SYSCALL_H
static inline long raw_syscall6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#define rsys0(n) raw_syscall6(n, 0, 0, 0, 0, 0, 0)
#define rsys1(n, a) raw_syscall6(n, (long)(a), 0, 0, 0, 0, 0)
#define rsys2(n, a, b) raw_syscall6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define rsys3(n, a, b, c) raw_syscall6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define rsys4(n, a, b, c, d) raw_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define rsys6(n, a, b, c, d, e, f) raw_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))
#define rsys5(n, a, b, c, d, e) raw_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#endif
