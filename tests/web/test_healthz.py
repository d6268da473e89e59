"""``GET /healthz``: 200 only when the database answers (for load balancers)."""

import pytest

from affnet.app import create_app
from affnet.config import load_settings
from affnet.core.storage.db import db
from affnet.instance import init_instance


def test_healthz_answers_200_when_the_database_answers(affnet_client):
    response = affnet_client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True}


@pytest.mark.parametrize(
    "database_url",
    [
        "postgresql://postgres@127.0.0.1:1/test",  # nothing listens on port 1
        "sqlite:////nonexistent-affnet-dir/affnet.db",  # a file that cannot be opened
    ],
)
def test_healthz_answers_503_when_the_database_is_down(tmp_path, database_url):
    init_instance(tmp_path / "instance")
    settings = load_settings(
        None,
        environ={},
        overrides={"database_url": database_url, "instance_path": str(tmp_path / "instance"), "plugins.enabled": []},
    )
    previous = db.obj
    try:
        app = create_app(settings, load_entrypoints=False)
        response = app.test_client().get("/healthz")
    finally:
        db.initialize(previous)
    assert response.status_code == 503
    body = response.get_json()
    assert body.get("ok") is not True and body["error"]


def test_healthz_answers_503_when_the_database_fails_a_query(affnet_client, monkeypatch):
    def refuse(*args, **kwargs):
        from peewee import OperationalError

        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(type(db.obj), "execute_sql", refuse)
    response = affnet_client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["ok"] is False
