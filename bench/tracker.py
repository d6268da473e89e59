"""The affiliates' tracker of the benchmarks: a keep-alive HTTP/1.1 server in
a process of its own, answering every GET with ``200 Success`` and counting
them (``GET /count`` answers the count).

It stands for a tracker on another machine, yet shares this one's cores, so
it is made to cost as little as it can: an asyncio protocol, no request
parsing beyond the end of the headers (postbacks are GETs without a body),
one write per answer.
"""

import http.client
import subprocess
import sys

SERVER = r'''
import asyncio
import sys

count = 0
SUCCESS = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nSuccess"


class Tracker(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        global count
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4:]
            if head.startswith(b"GET /count "):
                body = str(count).encode()
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                                     % (len(body), body))
            else:
                count += 1
                self.transport.write(SUCCESS)


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Tracker, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    # the benchmark holds our stdin: when it ends, however it ends, so do we
    await loop.run_in_executor(None, sys.stdin.read)

asyncio.run(main())
'''


class Tracker:
    """The fake tracker in its own process; ``stop()`` ends it."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.port = int(self.process.stdout.readline())
        self.base = f"http://127.0.0.1:{self.port}"

    def count(self) -> int:
        """How many postbacks it has answered."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("GET", "/count")
            return int(connection.getresponse().read())
        finally:
            connection.close()

    def stop(self) -> None:
        self.process.stdin.close()  # it ends at the end of its input (and so when this process dies)
        self.process.wait(timeout=10)
