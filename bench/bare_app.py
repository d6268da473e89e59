"""The ceiling: a bare WSGI app that answers the same 302 with a cookie as
``/r`` and touches no database."""


def app(environ, start_response):
    start_response(
        "302 Found",
        [
            ("Location", "https://susurra.example/start?lang=en&click_id=AAAAAAAAAAAAAAAAAAAAAA"),
            ("Set-Cookie", "affnet_ref=AAAAAAAAAAAAAAAAAAAAAA; Max-Age=5184000; HttpOnly; Path=/; SameSite=Lax"),
            ("Content-Length", "0"),
        ],
    )
    return [b""]
