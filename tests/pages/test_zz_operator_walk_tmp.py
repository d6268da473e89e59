import threading
import pytest
from werkzeug.serving import make_server
import affnet_echo_test.plugin as echo
from affnet.core.network import accounts, users
from affnet.core.storage.models import Delivery, DeliveryAttempt
from affnet.core import clock
from affnet.testing import free_port
from .browser import Walk, start_chrome

PORT = free_port()

@pytest.fixture
def affnet_database_url(tmp_path):
    return f"sqlite:///{tmp_path}/affnet.db"

@pytest.fixture
def affnet_plugins():
    return [("echo_test", echo)]

def test_walk(affnet_app, affnet_network):
    accounts.create_user("root@example.com", "admin", password="an-operators-password-1")
    users.sign_up("waiting-person-with-a-long-address@example.com", "a-long-password-1", "Waiting")
    d = Delivery.create(kind="echo_test", payload={}, next_attempt_at=clock.now(), attempts=3, last_error="connection refused by the receiving server at a long host name")
    DeliveryAttempt.create(delivery=d, outcome="retry", url="https://tracker.very-long-affiliate-tracker-domain.example/postback?x=1", error="connection refused")
    live = make_server("127.0.0.1", PORT, affnet_app, threaded=True)
    threading.Thread(target=live.serve_forever, daemon=True).start()
    driver = start_chrome()
    try:
        walk = Walk(driver, f"http://127.0.0.1:{PORT}")
        walk.go("/login")
        walk.fill(email="root@example.com", password="an-operators-password-1")
        walk.press("submit")
        for path, name in (("/admin", "health"), ("/admin/users", "users"), ("/admin/offers", "offers"),
                           ("/admin/participations", "participations"), ("/admin/deliveries", "deliveries"),
                           ("/admin/deliveries/tracker.very-long-affiliate-tracker-domain.example", "host"),
                           ("/admin/settings", "settings"), ("/admin/plugins", "plugins")):
            walk.go(path, "tmpop-" + name)
        print(walk.faults)
        assert not walk.faults
    finally:
        driver.quit()
        live.shutdown()
