"""A local stand-in for Meta's Graph API ``/{pixel_id}/events`` edge.

It checks each request the way Meta documents the edge (JSON body with
``data`` of 1 to 1,000 server events, ``access_token``, optional
``test_event_code``; website events need ``client_user_agent`` and
``event_source_url``) and answers like Meta: ``{"events_received": n,
"messages": [], "fbtrace_id": ...}``, or an ``{"error": {...}}`` body. A
token it does not know gets Meta's 190 answer. Tests queue other answers
with ``answer_next``.
"""

import ipaddress
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The token the fake accepts, shaped like a real system-user token.
VALID_TOKEN = "EAAGm0PX4ZCpsBAJZCtestTOKENzN8oQdZBvaliD0123456789abcdef"
PATH = re.compile(r"^/(v\d+\.\d+)/(\d+)/events$")


def meta_error(
    message: str,
    code: int,
    kind: str = "OAuthException",
    subcode: int | None = None,
    is_transient: bool | None = None,
    user_msg: str | None = None,
) -> dict:
    error = {"message": message, "type": kind, "code": code, "fbtrace_id": "A" + secrets.token_hex(8)}
    if subcode is not None:
        error["error_subcode"] = subcode
    if is_transient is not None:
        error["is_transient"] = is_transient
    if user_msg is not None:
        error["error_user_title"] = "Invalid parameter"
        error["error_user_msg"] = user_msg
    return {"error": error}


@dataclass
class Received:
    version: str
    pixel_id: str
    body: dict  # numbers parsed as Decimal
    raw: str
    headers: dict

    @property
    def events(self) -> list[dict]:
        return self.body["data"]


@dataclass
class FakeGraph:
    tokens: set = field(default_factory=set)
    received: list = field(default_factory=list)
    refused: list = field(default_factory=list)  # (why, raw) of requests Meta would refuse
    queued: list = field(default_factory=list)
    answered: list = field(default_factory=list)  # the HTTP status of every request, in order
    base_url: str = ""

    def answer_next(self, status: int, body: dict) -> None:
        self.queued.append((status, body))

    def check(self, path: str, headers, raw: str):
        """Meta's answer to a request, as (status, body)."""
        match = PATH.match(path)
        if not match:
            return 400, meta_error("Unsupported post request.", 100, "GraphMethodException", 33)
        if not headers.get("Content-Type", "").startswith("application/json"):
            return 400, meta_error("(#100) The parameter data is required", 100)
        try:
            body = json.loads(raw, parse_float=Decimal)
        except ValueError:
            return 400, meta_error("(#100) Invalid JSON", 100)
        token = body.get("access_token")
        if not token:
            return 400, meta_error("An access token is required to request this resource.", 104)
        if token not in self.tokens:
            return 400, meta_error("Invalid OAuth access token - Cannot parse access token", 190)
        data = body.get("data")
        if not isinstance(data, list) or not 1 <= len(data) <= 1000:
            return 400, meta_error("(#100) data must be an array of 1 to 1000 events", 100, "OAuthException")
        if "test_event_code" in body and not isinstance(body["test_event_code"], str):
            return 400, meta_error("(#100) Param test_event_code must be a string", 100)
        for index, event in enumerate(data):
            why = self._event_fault(event)
            if why:
                self.refused.append((why, raw))
                return 400, meta_error(
                    "(#100) Invalid parameter", 100, user_msg=f"event {index}: {why}", subcode=2804050
                )
        self.received.append(Received(match.group(1), match.group(2), body, raw, dict(headers)))
        if self.queued:
            return self.queued.pop(0)
        return 200, {"events_received": len(data), "messages": [], "fbtrace_id": "A" + secrets.token_hex(8)}

    @staticmethod
    def _event_fault(event) -> str:
        if not isinstance(event, dict):
            return "is not an object"
        if not isinstance(event.get("event_name"), str):
            return "event_name is required"
        if not isinstance(event.get("event_time"), int) or len(str(event["event_time"])) != 10:
            return "event_time must be Unix seconds"
        user_data = event.get("user_data")
        if not isinstance(user_data, dict) or not user_data:
            return "user_data needs at least one customer information parameter"
        if "client_ip_address" in user_data:
            try:
                ipaddress.ip_address(user_data["client_ip_address"])
            except ValueError:
                return "client_ip_address must be a valid IPv4 or IPv6 address"
        if event.get("action_source") == "website" and not (
            user_data.get("client_user_agent") and event.get("event_source_url")
        ):
            return "website events need client_user_agent and event_source_url"
        custom = event.get("custom_data")
        if custom is not None:
            if "value" in custom and not isinstance(custom["value"], (int, Decimal)):
                return "custom_data.value must be a number"
            if not isinstance(custom.get("currency", ""), str):
                return "custom_data.currency must be a string"
        return ""


def start_fake_graph(tokens=()) -> tuple[FakeGraph, ThreadingHTTPServer]:
    graph = FakeGraph(tokens=set(tokens))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8")
            status, body = graph.check(self.path, self.headers, raw)
            graph.answered.append(status)
            out = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    graph.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    return graph, server
