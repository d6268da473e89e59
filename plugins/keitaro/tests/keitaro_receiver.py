"""A fake tracker for the keitaro plugin's tests: a local HTTP server on
127.0.0.1 that records every GET (path and query) and answers as scripted.

Keitaro answers a postback with a short plain-text body; ``answers`` is a
list of (status, headers, body) used in order, the last one repeating.
"""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FakeTracker:
    def __init__(self, answers=((200, {}, "Success"),)):
        self.answers = list(answers)
        self.requests = []
        self.lock = threading.Lock()
        self.delay_seconds = 0.0
        self.in_flight = self.max_in_flight = 0
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                parts = urlsplit(self.path)
                with tracker.lock:
                    tracker.requests.append({"path": parts.path, "query": {k: v[0] for k, v in
                                                                          parse_qs(parts.query, keep_blank_values=True).items()},
                                             "raw_query": parts.query, "client_port": self.client_address[1]})
                    status, headers, body = tracker.answers[0] if len(tracker.answers) == 1 else tracker.answers.pop(0)
                    tracker.in_flight += 1
                    tracker.max_in_flight = max(tracker.max_in_flight, tracker.in_flight)
                if tracker.delay_seconds:
                    time.sleep(tracker.delay_seconds)
                with tracker.lock:
                    tracker.in_flight -= 1
                data = body.encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, client: None  # a client that timed out and hung up
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer_next(self, *answers):
        """Answer the next requests with ``answers`` (status, headers, body), then as before."""
        with self.lock:
            self.answers = list(answers) + [self.answers[-1]]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
