"""Calls to PayPal's REST API with an access token.

Each call carries the app's cached token; a 401 (the token expired early or
was revoked) gets one new token and the call is made once more, with the
same headers (so a payout POST keeps its ``PayPal-Request-Id``). A network
fault or a timeout raises ``Unreachable``; every HTTP answer comes back as
an ``Answer``, to be read by the caller.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

import requests

from .tokens import TOKENS, App, TokenCache, hint

log = logging.getLogger(__name__)


class Unreachable(Exception):
    """No answer from PayPal (connection refused or cut, timeout): the call
    may or may not have been done there. The message names the call only."""


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: its status and its JSON body (``{}`` when it had none)."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


class PayPalClient:
    """The REST API of one operator's PayPal app, for the length of one
    ``send`` or ``poll`` (it holds an HTTP session: use it in a ``with``)."""

    def __init__(self, app: App, tokens: TokenCache = TOKENS):
        self.app = app
        self.tokens = tokens
        self.session = requests.Session()

    def __enter__(self) -> "PayPalClient":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.session.close()

    def call(self, method: str, path: str, json: Any = None, headers: dict[str, str] | None = None) -> Answer:
        """``method path`` with a bearer token, renewed once on a 401.
        Raises ``Unreachable`` and ``tokens.TokenError``."""
        token = self.tokens.token(self.session, self.app)
        answer = self._once(method, path, token, json, headers)
        if answer.status == 401:
            log.info("PayPal refused the access token of client id %s: getting a new one", hint(self.app.client_id))
            token = self.tokens.renew(self.session, self.app, stale=token)
            answer = self._once(method, path, token, json, headers)
        return answer

    def _once(self, method: str, path: str, token: str, json: Any, headers: dict[str, str] | None) -> Answer:
        sent = {"Accept": "application/json", "Authorization": f"Bearer {token}", **(headers or {})}
        try:
            response = self.session.request(
                method, f"{self.app.base_url}{path}", json=json, headers=sent, timeout=self.app.timeout
            )
        except requests.RequestException as error:
            raise Unreachable(f"could not reach PayPal for {method} {path} ({type(error).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        return Answer(response.status_code, body if isinstance(body, dict) else {})
