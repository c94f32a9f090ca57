"""A round-robin TCP proxy: each connection accepted on 127.0.0.1:PORT goes to
the next of the BACKEND ports, bytes copied both ways until either side
closes. For scripts/fuzz with FUZZ_INSTANCES > 1, as a load balancer in front
of several instances would spread connections.

Usage: round_robin.py PORT BACKEND_PORT...
"""

import asyncio
import itertools
import os
import signal
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main(port, backends):
    turn = itertools.cycle(backends)

    async def accept(client_reader, client_writer):
        try:
            backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", next(turn))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, backend_writer), pipe(backend_reader, client_writer))

    server = await asyncio.start_server(accept, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    # Stopped like the instances behind it: a clean exit, not a killed one.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.run(main(int(sys.argv[1]), [int(p) for p in sys.argv[2:]]))
