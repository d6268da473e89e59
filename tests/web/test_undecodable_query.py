"""A query string that is not UTF-8 reaches Flask's routes from servers that pass it on (gunicorn refuses it
itself): 400, never 500."""

import pytest
from werkzeug.test import EnvironBuilder


@pytest.mark.parametrize("path", ["/login", "/dashboard", "/api/affiliate/stats-api", "/healthz", "/static/pages.css"])
def test_a_query_string_that_is_not_utf8_answers_400(affnet_app, path):
    environ = EnvironBuilder(path=path).get_environ()
    environ["QUERY_STRING"] = "lang=\xff&next=%2F\xfe"  # bytes 0xff 0xfe, as a WSGI server hands them over (latin-1)
    answered = []
    body = b"".join(affnet_app(environ, lambda status, headers: answered.append(status)))
    assert answered == ["400 BAD REQUEST"], body[:300]
    assert b"not valid UTF-8" in body
