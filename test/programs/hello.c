/* Prints one line; built with -static, it cannot load the agent. */
#include <stdio.h>
int main(void) { puts("hello from a static program"); return 0; }
