# CPython asyncio: a server and a client on 127.0.0.1 in one process, plus a
# socket pair. Each step sends k and must read k+1 back, and passes a byte
# through the pair; anything else is CORRUPT. Prints "A k".
# Usage: python3 asyncio_echo.py N
import asyncio
import socket
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 60


async def handle(reader, writer):
    while line := await reader.readline():
        writer.write(b'%d\n' % (int(line) + 1))
        await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(handle, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    a, b = socket.socketpair()
    for k in range(1, N + 1):
        writer.write(b'%d\n' % k)
        await writer.drain()
        got = int(await reader.readline())
        if got != k + 1:
            print(f'CORRUPT got {got} for {k}', flush=True)
            sys.exit(3)
        a.send(bytes([k % 256]))
        if b.recv(1) != bytes([k % 256]):
            print('CORRUPT socketpair', flush=True)
            sys.exit(3)
        print(f'A {k}', flush=True)
        await asyncio.sleep(0.05)
    print(f'DONE {N}', flush=True)
    sys.stdout.flush()
    import os
    os._exit(0)   # the echo task is still reading: leave without cancelling it


asyncio.run(main())
