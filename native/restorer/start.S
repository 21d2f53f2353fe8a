/* The restorer's first instructions. The kernel's stack may sit exactly where the
 * image's stack must go, so before any C code runs we move to a stack inside our
 * own .bss (linked low, see binding.gyp) and pass the kernel's stack pointer along:
 * argc/argv live there. */
  .globl _start
  .text
_start:
  mov %rsp, %rdi
  mov restorer_stack_top(%rip), %rsp
  and $-16, %rsp
  call restorer_main
  /* restorer_main never returns; exit(99) if it ever does. */
  mov $99, %edi
  mov $231, %eax
  syscall
  hlt

/* void jump_to_entry(uint64_t entry, uint64_t stack_top, void *handoff)
 * Switch to the agent's restore stack and call its entry; it never returns. */
  .globl jump_to_entry
jump_to_entry:
  mov %rsi, %rsp
  and $-16, %rsp
  mov %rdx, %rsi
  mov %rdi, %rax
  mov %rsi, %rdi
  call *%rax
  hlt

/* long restorer_clone(unsigned long flags, void *stack_top, int *ctid, void (*fn)(void))
 * A thread of ours (fill.c): clone() with the child on stack_top, where it
 * calls fn and exits; the parent gets the new thread's id (or -errno). */
  .globl restorer_clone
restorer_clone:
  and $-16, %rsi
  sub $8, %rsi
  mov %rcx, (%rsi)      /* fn, for the child to pop */
  mov %rdx, %r10        /* child_tid: cleared and woken by the kernel at exit */
  xor %edx, %edx        /* parent_tid */
  xor %r8d, %r8d        /* tls */
  mov $56, %eax         /* clone */
  syscall
  test %rax, %rax
  jnz 1f
  pop %rax              /* the child, on its stack, now 16-aligned before the call */
  call *%rax
  xor %edi, %edi
  mov $60, %eax         /* exit: this thread only */
  syscall
  hlt
1:
  ret
  .section .note.GNU-stack,"",@progbits
