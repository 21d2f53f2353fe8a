{
  # The products of one file:
  #   dmtcp_native.node  the Node addon (exec, personality, memfd): only syscalls
  #   libdmtcp.so        the agent, LD_PRELOADed into every checkpointed process
  #   libdmtcpaware      .so and .a of include/dmtcp/dmtcpaware.h (docs/api.md)
  #   mtcp_restart       the restorer: static, no libc, linked low (see docs/restore-plan.md)
  #   dmtcp_launch_fast  dmtcp_launch's common cases without Node's start-up (native/launch/launch.h)
  #   dmtcp_encoder_wait the resident encoder until the first checkpoint starts Node (native/encoder_wait/)
  "targets": [
    {
      "target_name": "dmtcp_native",
      "sources": ["native/addon/addon.cc", "native/addon/service.cc", "native/addon/deflate.cc", "native/addon/isal.cc", "native/addon/plan_fill.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-O2"],
      "ldflags": ["-ldl"],
      # ISA-L's header (Debian: libisal-dev) gives gzip members their fast engine;
      # the library itself is dlopened at run time (deflate.cc), never linked.
      "conditions": [
        ["<!(test -f /usr/include/isa-l/igzip_lib.h && echo 1 || echo 0)==1", {"defines": ["DMTCP_HAVE_ISAL"]}]
      ]
    },
    {
      "target_name": "libdmtcp",
      "type": "shared_library",
      "product_name": "dmtcp",
      "product_prefix": "lib",
      "sources": ["<!@(ls -1 native/agent/*/*.c native/agent/*/*.S)"],
      "include_dirs": ["include", "native/agent", "native/common"],
      "cflags": ["-std=gnu11", "-Wall", "-O2", "-fPIC", "-fno-stack-protector", "-fvisibility=hidden", "-D_GNU_SOURCE"],
      # The agent's calls to functions it defines itself stay its own: a program
      # that defines gettid() as syscall(SYS_gettid) must not get our syscall()
      # calling its gettid() back, forever (DMTCP's syscall-tester does that).
      "ldflags": ["-ldl", "-lpthread", "-Wl,-Bsymbolic-functions"]
    },
    {
      # include/dmtcp/dmtcpaware.h over the agent: a shared and a static library
      "target_name": "libdmtcpaware",
      "type": "shared_library",
      "product_name": "dmtcpaware",
      "product_prefix": "lib",
      "sources": ["native/dmtcpaware/dmtcpaware.c"],
      "include_dirs": ["include"],
      "cflags": ["-std=gnu11", "-Wall", "-O2", "-fPIC", "-D_GNU_SOURCE"],
      "ldflags": ["-ldl"]
    },
    {
      "target_name": "libdmtcpaware_static",
      "type": "static_library",
      "product_name": "dmtcpaware",
      "product_prefix": "lib",
      "sources": ["native/dmtcpaware/dmtcpaware.c"],
      "include_dirs": ["include"],
      "cflags": ["-std=gnu11", "-Wall", "-O2", "-fPIC", "-D_GNU_SOURCE"],
      "standalone_static_library": 1
    },
    {
      "target_name": "dmtcp_launch_fast",
      "type": "executable",
      "sources": ["<!@(ls -1 native/launch/*.c)"],
      "cflags": ["-std=gnu11", "-Wall", "-O2", "-D_GNU_SOURCE"]
    },
    {
      # the resident encoder's stand-in until the first checkpoint (native/encoder_wait/encoder_wait.c)
      "target_name": "dmtcp_encoder_wait",
      "type": "executable",
      "sources": ["native/encoder_wait/encoder_wait.c"],
      "cflags": ["-std=gnu11", "-Wall", "-O2", "-D_GNU_SOURCE"]
    },
    {
      "target_name": "mtcp_restart",
      "type": "executable",
      "sources": ["<!@(ls -1 native/restorer/*.c native/restorer/*.S)"],
      "include_dirs": ["native/common"],
      "cflags": ["-std=gnu11", "-Wall", "-O2", "-fno-pie", "-fno-stack-protector", "-fno-builtin",
                 "-ffreestanding", "-nostdlib", "-fno-asynchronous-unwind-tables", "-mno-red-zone",
                 "-fcf-protection=none"],
      "cflags!": ["-fPIC", "-pthread"],
      "ldflags": ["-static", "-nostdlib", "-no-pie", "-Wl,-Ttext-segment=0x100000",
                  "-Wl,--build-id=none", "-Wl,-z,noexecstack"],
      "ldflags!": ["-pthread", "-rdynamic"]
    }
  ]
}
