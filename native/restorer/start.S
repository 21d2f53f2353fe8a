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
  .section .note.GNU-stack,"",@progbits
