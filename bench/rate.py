"""An open-loop load generator: requests sent at a fixed rate, whatever the
server's answers, each one's latency counted from the moment it was due.

wrk keeps 32 connections busy: it measures the most a server answers, and a
latency that is mostly the queue in front of it (32 requests / throughput).
This answers the other question: at a given rate, say 1,000 events a second,
how long does an answer take? A request that waits for a free connection
waits on the clock (no coordinated omission): it was due, so its wait counts.

``run(port, request_for, rate, seconds)`` sends ``rate * seconds``
requests, the n-th built by ``request_for(n)`` (the bytes of an HTTP/1.1
request), over at most ``connections`` keep-alive connections, and returns
the achieved rate, the status codes and latency percentiles in milliseconds.
A request whose kept-alive connection the server had closed is sent again on
a new one (as any client does); one that fails twice is an error.

It is asyncio protocols and nothing else, so that it takes as little as it
can of the cores it shares with the server it measures.
"""
import asyncio
import collections
import time


class _Connection(asyncio.Protocol):
    def __init__(self, load: "_Load"):
        self.load = load
        self.transport = None
        self.buffer = b""
        self.current = None  # (number, due, tries) of the request in flight

    def connection_made(self, transport):
        self.transport = transport
        self.load.ready(self)

    def send(self, job) -> None:
        self.current = job
        self.transport.write(self.load.request_for(job[0]))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.current is None:
            return
        head = self.buffer[:end]
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if len(self.buffer) < end + 4 + length:
            return
        self.buffer = self.buffer[end + 4 + length:]
        job, self.current = self.current, None
        self.load.answered(self, job, int(head[9:12]))

    def connection_lost(self, exc) -> None:
        self.load.lost(self, self.current)
        self.current = None


class _Load:
    def __init__(self, port: int, request_for, connections: int):
        self.port = port
        self.request_for = request_for
        self.limit = connections
        self.loop = asyncio.get_running_loop()
        self.idle: list[_Connection] = []
        self.waiting: collections.deque = collections.deque()
        self.opened = 0
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.outstanding = 0
        self.done = self.loop.create_future()

    def submit(self, job) -> None:
        if self.idle:
            self.idle.pop().send(job)
            return
        self.waiting.append(job)
        if self.opened < self.limit:
            self.opened += 1
            self.loop.create_task(self._open())

    async def _open(self) -> None:
        try:
            await self.loop.create_connection(lambda: _Connection(self), "127.0.0.1", self.port)
        except OSError:
            self.opened -= 1
            if self.waiting:
                self._finish(self.waiting.popleft(), None)

    def ready(self, connection: _Connection) -> None:
        if self.waiting:
            connection.send(self.waiting.popleft())
        else:
            self.idle.append(connection)

    def answered(self, connection: _Connection, job, status: int) -> None:
        self._finish(job, status)
        self.ready(connection)

    def lost(self, connection: _Connection, job) -> None:
        self.opened -= 1
        if connection in self.idle:
            self.idle.remove(connection)
        if job is not None:
            if job[2] == 0:  # the server had closed a kept-alive connection: send it again
                self.submit((job[0], job[1], 1))
            else:
                self._finish(job, None)

    def _finish(self, job, status) -> None:
        if status is None:
            self.errors += 1
        else:
            self.latencies.append(time.perf_counter() - job[1])
            self.statuses[status] = self.statuses.get(status, 0) + 1
        self.outstanding -= 1
        if self.outstanding == 0 and not self.done.done():
            self.done.set_result(None)


async def _run(port: int, request_for, rate: float, seconds: float, connections: int, timeout: float) -> dict:
    load = _Load(port, request_for, connections)
    total = int(rate * seconds)
    load.outstanding = total
    started = time.perf_counter()
    sent = 0
    while sent < total:
        now = time.perf_counter()
        due_now = min(total, int((now - started) * rate) + 1)
        while sent < due_now:
            load.submit((sent, started + sent / rate, 0))
            sent += 1
        await asyncio.sleep(max(0.0, started + sent / rate - time.perf_counter()))
    try:
        await asyncio.wait_for(load.done, timeout)
    except asyncio.TimeoutError:
        load.errors += load.outstanding
    elapsed = time.perf_counter() - started
    for connection in load.idle:
        connection.transport.close()
    latencies = sorted(load.latencies)

    def percentile(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000 if latencies else 0.0

    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "errors": load.errors,
            "statuses": load.statuses, "p50": percentile(0.50), "p90": percentile(0.90), "p99": percentile(0.99),
            "p999": percentile(0.999), "max": latencies[-1] * 1000 if latencies else 0.0}


def run(port: int, request_for, rate: float, seconds: float, connections: int = 256, timeout: float = 10) -> dict:
    """Send ``rate`` requests a second for ``seconds`` to 127.0.0.1:``port``; see the module's docstring."""
    return asyncio.run(_run(port, request_for, rate, seconds, connections, timeout))
