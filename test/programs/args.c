/* Prints its argument vector, one "argv[i]=<arg>" a line, after "argc=<n>":
 * shows that dmtcp_launch stops parsing its own options at the program name. */
#include <stdio.h>

int main(int argc, char **argv) {
  printf("argc=%d\n", argc);
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  return 0;
}
