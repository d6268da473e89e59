"""Helpers for tests of affnet and its plugins: follow a tracking link, call
the ingest API, check that a secret is not stored in plain text."""

from .fixtures import Network


def sale_body(click_id=None, payment="pi_123", amount=29.0, **extra) -> dict:
    """The SPEC's conversion body, with the given click and payment (the
    amount goes out as a JSON number, as product owners send it)."""
    body = {
        "click_id": click_id,
        "user_ref": "cus_123",
        "event": "sale",
        "external_payment_id": payment,
        "gross_amount": amount,
        "currency": "USD",
        "is_first_payment": True,
    }
    body.update(extra)
    return {key: value for key, value in body.items() if value is not None}


def ingest(client, network: Network, call: str, body, key: str | None = None):
    """POST ``body`` to ``/api/ingest/<call>`` with the network's offer key."""
    return client.post(
        f"/api/ingest/{call}", json=body, headers={"X-Offer-Key": network.offer_key if key is None else key}
    )


def click(client, ref: str, **params):
    """Follow a tracking link; returns the response (a 302 for a live ref)."""
    params.setdefault("ua", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148")
    user_agent = params.pop("ua")
    query = "&".join(f"{name}={value}" for name, value in {"ref": ref, **params}.items())
    response = client.get(f"/r?{query}", headers={"User-Agent": user_agent})
    load_clicks(client.application)
    return response


def load_clicks(app) -> int:
    """Load the spooled clicks into the database now (the flusher does it
    every ``tracking.spool_flush_ms`` in a running server)."""
    return app.extensions["affnet"].spool.flush()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def click_id_of(response) -> str:
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(response.headers["Location"]).query)["click_id"][0]


def assert_not_stored(secret: str) -> None:
    """Fail when ``secret`` appears as it is in any value of any affnet
    table (a secret setting must be stored encrypted, a token hashed)."""
    from ..core.storage.models import ALL_MODELS

    found = []
    for model in ALL_MODELS:
        for row in model.select().tuples():
            found += [
                f"{model._meta.table_name}.{field.name}"
                for field, value in zip(model._meta.sorted_fields, row)
                if value is not None and secret in str(value)
            ]
    assert not found, f"the secret is stored in plain text in {', '.join(sorted(set(found)))}"


class HeldRow:
    """A row lock on one row of a PostgreSQL table, held from a connection of
    its own: a process that writes the row waits until the lock is let go.
    With ``waiting()`` a test can tell that the process reached that write,
    kill it there, and find what it had done before (a payment made at a
    provider, say) without what it did after (the payment recorded)::

        with HeldRow(url, "payout", payout_id) as row:
            ...                      # let the process go on
            row.wait_for_waiter()    # it is stuck on its write
            process.kill()
    """

    def __init__(self, url: str, table: str, row_id: int):
        self.url, self.table, self.row_id = url, table, row_id

    def __enter__(self) -> "HeldRow":
        import psycopg2
        from playhouse.db_url import parse

        self.connection = psycopg2.connect(**_psycopg_args(parse(self.url)))
        cursor = self.connection.cursor()
        cursor.execute(f'SELECT id FROM "{self.table}" WHERE id = %s FOR UPDATE', [self.row_id])
        assert cursor.fetchone(), f"no row {self.row_id} in {self.table}"
        return self

    def waiting(self) -> int:
        """How many other sessions wait for this lock now."""
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))")
            return cursor.fetchone()[0]

    def end_waiters(self) -> None:
        """End the sessions that wait for this lock (their statements undone), as the server would once it
        noticed that their process died."""
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )

    def wait_for_waiter(self, timeout: float = 30.0) -> None:
        import time

        deadline = time.monotonic() + timeout
        while not self.waiting():
            assert time.monotonic() < deadline, f"nothing came to wait for {self.table} {self.row_id}"
            time.sleep(0.05)

    def __exit__(self, *exc) -> None:
        self.connection.rollback()
        self.connection.close()


def _psycopg_args(parsed: dict) -> dict:
    args = {key: parsed[key] for key in ("database", "user", "password", "host", "port") if parsed.get(key)}
    if "options" in parsed:
        args["options"] = parsed["options"]
    args["dbname"] = args.pop("database", None)
    return args


def run_affnet(config_path, *args, **popen):
    """Start ``affnet --config <config_path> <args>`` as a process of its own
    (``subprocess.Popen``, output captured); for tests that kill it."""
    import subprocess
    import sys

    command = [sys.executable, "-c", "from affnet.cli import main; main()", "--config", str(config_path), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen)


def kill_between_answer_and_record(config_path, database_url: str, payout_id: int, answered, release, timeout=30.0):
    """Run ``affnet payouts send`` in a process of its own and SIGKILL it after
    the provider answered and before the answer is recorded (PostgreSQL).

    ``answered`` is a ``threading.Event`` the fake provider's hook sets once
    it holds the payment and waits to answer; ``release()`` lets it answer.
    The payout's row is held meanwhile, so the process, answer in hand,
    waits on its write until it is killed. Returns the process's output."""
    process = run_affnet(config_path, "payouts", "send")
    try:
        assert answered.wait(timeout), "the provider was never asked"
        with HeldRow(database_url, "payout", payout_id) as row:
            release()
            row.wait_for_waiter(timeout)
            process.kill()
            process.wait(timeout)
            row.end_waiters()  # a statement already sent would otherwise go on once the lock is let go
    finally:
        if process.poll() is None:
            process.kill()
    with process.stdout:
        return process.stdout.read().decode(errors="replace")


def totp_code(secret: str, at=None) -> str:
    """The 6-digit code an authenticator app shows for ``secret`` at ``at`` (a naive UTC datetime; default
    affnet's clock now, which ``affnet_clock`` moves). A code works once: a second log-in in one test
    moves the clock on 30 seconds first."""
    import pyotp

    from ..core import clock

    return pyotp.TOTP(secret).at(clock.unix_seconds(at or clock.now()))
