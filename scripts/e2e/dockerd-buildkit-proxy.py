#!/usr/bin/env python3
"""Expose a dockerd's embedded BuildKit control API on a plain unix socket, for `buildctl --addr unix://...`.

dockerd serves BuildKit's gRPC API (the one buildx's "docker" driver uses) behind `POST /grpc` with an
HTTP/1.1 `Upgrade: h2c`; after `101 Switching Protocols` the connection is raw HTTP/2. buildctl cannot do
that upgrade itself, so this relay accepts connections on LISTEN, performs the upgrade on DOCKER_SOCK and then
copies bytes both ways.

    dockerd-buildkit-proxy.py DOCKER_SOCK LISTEN_SOCK
"""
import asyncio
import os
import sys

UPGRADE = (b"POST /grpc HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"
           b"Content-Length: 0\r\n\r\n")


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def handle(docker_sock, creader, cwriter):
    try:
        dreader, dwriter = await asyncio.open_unix_connection(docker_sock)
    except OSError as e:
        print(f"dockerd-buildkit-proxy: cannot connect to {docker_sock}: {e}", file=sys.stderr)
        cwriter.close()
        return
    dwriter.write(UPGRADE)
    await dwriter.drain()
    head = await dreader.readuntil(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status + b" ":
        print(f"dockerd-buildkit-proxy: upgrade refused: {head!r}", file=sys.stderr)
        cwriter.close()
        dwriter.close()
        return
    await asyncio.gather(pump(creader, dwriter), pump(dreader, cwriter))
    cwriter.close()
    dwriter.close()


async def main(docker_sock, listen):
    if os.path.exists(listen):
        os.unlink(listen)
    server = await asyncio.start_unix_server(lambda r, w: handle(docker_sock, r, w), path=listen)
    os.chmod(listen, 0o660)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
