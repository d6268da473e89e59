"""``FakeReceiver``: a local HTTP server that plays an outside service."""


class FakeReceiver:
    """A local HTTP server that plays an outside service in tests (an
    affiliate's tracker, an ad platform, a payout provider): it records every
    request and answers as scripted.

    ``answers`` is a list of (status, headers, body) used in order, the last
    one repeating; ``route(request)`` may answer instead (return None to fall
    back to the script). Each recorded request is a dict with ``method``,
    ``path`` (without the query), ``query`` (first value of each parameter),
    ``raw_query``, ``headers`` (looked up in any case, listed as sent),
    ``body`` (bytes, ``b""`` when there is none) and ``client_port``. A
    scripted answer's body may be ``str`` (sent as UTF-8) or ``bytes``.
    ``delay_seconds`` slows every answer; ``max_in_flight`` says how many
    requests were being answered at once at most. Use it as a context
    manager, or call ``close()``.
    """

    def __init__(self, answers=((200, {}, "ok"),), route=None):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from requests.structures import CaseInsensitiveDict
        from urllib.parse import parse_qs, urlsplit
        import threading
        import time

        self.answers = list(answers)
        self.route = route
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.delay_seconds = 0.0
        self.in_flight = self.max_in_flight = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # one send per answer (headers and body together), as real servers do: headers and body
            # in two small writes meet the client's delayed ACK and wait 40 ms each (Nagle's algorithm)
            wbufsize = 64 * 1024
            disable_nagle_algorithm = True

            def _answer(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = {
                    "method": self.command,
                    "path": parts.path,
                    "raw_query": parts.query,
                    "query": {key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()},
                    "headers": CaseInsensitiveDict(self.headers.items()),
                    "body": self.rfile.read(length) if length else b"",
                    "client_port": self.client_address[1],
                }
                with receiver.lock:
                    receiver.requests.append(request)
                    answer = receiver.route(request) if receiver.route else None
                    if answer is None:
                        answer = receiver.answers[0] if len(receiver.answers) == 1 else receiver.answers.pop(0)
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                with receiver.lock:
                    receiver.in_flight -= 1
                status, headers, body = answer
                data = body.encode() if isinstance(body, str) else body
                if status in (204, 304) or status < 200:
                    data = b""  # these answers have no body (RFC 9110)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, client: None  # a client that timed out and hung up
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer_next(self, *answers):
        """Answer the next requests with ``answers``, then as before."""
        with self.lock:
            self.answers = list(answers) + [self.answers[-1]]

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
