/* A minimal setjmp/longjmp that glibc cannot veto: no pointer mangling checks, no
 * fortify stack checks (we jump between kernel threads after a restart), no signal
 * mask (the kernel restores masks from each thread's signal frame).
 *
 * struct agent_ctx { rbx, rbp, r12, r13, r14, r15, rsp, rip }                */
  .text
  .globl agent_ctx_save
  .type agent_ctx_save, @function
agent_ctx_save:
  mov %rbx, 0(%rdi)
  mov %rbp, 8(%rdi)
  mov %r12, 16(%rdi)
  mov %r13, 24(%rdi)
  mov %r14, 32(%rdi)
  mov %r15, 40(%rdi)
  lea 8(%rsp), %rdx
  mov %rdx, 48(%rdi)
  mov (%rsp), %rdx
  mov %rdx, 56(%rdi)
  xor %eax, %eax
  ret
  .size agent_ctx_save, .-agent_ctx_save

  .globl agent_ctx_jump
  .type agent_ctx_jump, @function
agent_ctx_jump:
  mov 0(%rdi), %rbx
  mov 8(%rdi), %rbp
  mov 16(%rdi), %r12
  mov 24(%rdi), %r13
  mov 32(%rdi), %r14
  mov 40(%rdi), %r15
  mov 48(%rdi), %rsp
  mov %esi, %eax
  jmp *56(%rdi)
  .size agent_ctx_jump, .-agent_ctx_jump

/* long agent_clone_into(unsigned long flags, void *stack, int *ptid, int *ctid,
 *                       unsigned long tls, void *arg)
 * clone(2) whose child calls agent_thread_reborn(arg) on `stack`. The child keeps
 * r9 (clone takes five arguments), which carries arg across the syscall. */
  .globl agent_clone_into
  .type agent_clone_into, @function
agent_clone_into:
  mov %rcx, %r10
  mov $56, %eax
  syscall
  test %rax, %rax
  jnz 1f
  xor %ebp, %ebp
  mov %r9, %rdi
  call agent_thread_reborn
  hlt
1:
  ret
  .size agent_clone_into, .-agent_clone_into
  .section .note.GNU-stack,"",@progbits
