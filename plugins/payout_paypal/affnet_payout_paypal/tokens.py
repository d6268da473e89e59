"""OAuth2 access tokens for PayPal's REST API (client credentials), cached.

``POST {base_url}/v1/oauth2/token`` with HTTP basic auth ``client_id:secret``
and ``grant_type=client_credentials`` answers ``access_token`` and
``expires_in`` (seconds; about nine hours on PayPal). A token is kept per
``(base_url, client_id)`` (and a digest of the secret, so that a secret the
operator changes is checked at once, not hours later) and used until
shortly before it expires (a tenth of its life, at most a minute, early),
so a payout run asks for one token, not one per payout. A token refused earlier than that (revoked, or PayPal
lost it) is replaced with ``renew``. Tokens live in memory only, and neither
they nor the secret are ever logged or put in an error text.
"""

import hashlib
import logging
import threading
from dataclasses import dataclass
from time import monotonic

import requests

log = logging.getLogger(__name__)

MAX_EARLY_SECONDS = 60.0


class TokenError(Exception):
    """No token: ``retry`` says whether asking again later may work (a
    network fault or a 5xx) or not (PayPal refused the client id and secret).
    The message holds neither the secret nor a token."""

    def __init__(self, message: str, retry: bool):
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class App:
    """The operator's PayPal REST app, as ``send`` and ``poll`` get it."""

    base_url: str
    client_id: str
    client_secret: str
    timeout: float

    def __repr__(self) -> str:  # a repr lands in tracebacks and logs: keep the secret out of it
        return f"App({self.base_url!r}, client id {hint(self.client_id)})"


def hint(text: str) -> str:
    """The last four characters of an id, for logs (``…a1b2``)."""
    return "…" + text[-4:]


@dataclass
class _Held:
    token: str
    renew_at: float


class TokenCache:
    """Access tokens by app (``base_url``, ``client_id``, the secret's digest);
    safe to share between threads."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str, str], _Held] = {}
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def token(self, session: requests.Session, app: App) -> str:
        """A token for ``app``: the cached one while it is fresh, else a new one."""
        return self._get(session, app, stale=None)

    def renew(self, session: requests.Session, app: App, stale: str) -> str:
        """A token other than ``stale`` (which PayPal refused): a new one,
        unless another thread has already replaced it."""
        return self._get(session, app, stale=stale)

    def clear(self) -> None:
        with self._guard:
            self._held.clear()

    def _get(self, session: requests.Session, app: App, stale: str | None) -> str:
        key = (app.base_url, app.client_id, hashlib.sha256(app.client_secret.encode()).hexdigest())
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one token call per app at a time: the others wait for its token
            held = self._held.get(key)
            if held and held.token != stale and monotonic() < held.renew_at:
                return held.token
            token, lifetime = _ask(session, app)
            early = min(MAX_EARLY_SECONDS, lifetime / 10)
            self._held[key] = _Held(token, monotonic() + lifetime - early)
            log.info("PayPal access token for client id %s obtained, valid %d s", hint(app.client_id), lifetime)
            return token


def _ask(session: requests.Session, app: App) -> tuple[str, float]:
    """(access token, lifetime in seconds) from PayPal's token endpoint."""
    try:
        response = session.post(
            f"{app.base_url}/v1/oauth2/token",
            auth=(app.client_id, app.client_secret),
            data={"grant_type": "client_credentials"},
            headers={"Accept": "application/json"},
            timeout=app.timeout,
        )
    except requests.RequestException as error:
        raise TokenError(f"could not reach PayPal for an access token ({type(error).__name__})", retry=True) from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if response.status_code >= 500 or response.status_code == 429:
        raise TokenError(f"PayPal's token endpoint answered HTTP {response.status_code}", retry=True)
    if response.status_code != 200:
        said = body.get("error_description") or body.get("message") or ""
        code = body.get("error") or body.get("name") or f"HTTP {response.status_code}"
        raise TokenError(
            f"PayPal refused the client id and secret ({code}{': ' + str(said) if said else ''}): "
            "check them with affnet payouts credentials, and base_url (sandbox or live)",
            retry=False,
        )
    token, lifetime = body.get("access_token"), body.get("expires_in")
    if not isinstance(token, str) or not token or isinstance(lifetime, bool) or not isinstance(lifetime, int | float):
        raise TokenError("PayPal's token endpoint answered without access_token and expires_in", retry=True)
    return token, float(lifetime)


TOKENS = TokenCache()
