"""Two-factor log-in (TOTP, RFC 6238) and its recovery codes, as the domain keeps them: a code works
once and one step either way, the secret is encrypted at rest, recovery codes are hashed and work once,
and every change is in the audit log without a secret or a code in it."""

import json
import re
from datetime import datetime, timedelta

import pytest

from affnet.core.network import two_factor
from affnet.core.storage.models import AuditEntry, RecoveryCode, User
from affnet.core.storage.secrets import keyring
from affnet.testing.helpers import assert_not_stored, totp_code
from werkzeug.security import generate_password_hash

PASSWORD = "a-good-password-42"
START = datetime(2026, 6, 1, 12, 0, 10)  # 10 seconds into a 30-second step


@pytest.fixture
def user(affnet_network, affnet_clock):
    affnet_clock.set(START)
    account = affnet_network.affiliate
    User.update(password_hash=generate_password_hash(PASSWORD)).where(User.id == account.id).execute()
    return User.get_by_id(account.id)


def turned_on(user, clock):
    """Two-factor log-in on for ``user``; the clock then moves to the next step, so a new code is fresh."""
    secret = two_factor.start(user)
    codes = two_factor.confirm(user, totp_code(secret))
    clock.advance(seconds=30)
    return secret, codes


def test_a_code_works_once(user, affnet_clock):
    secret, _ = turned_on(user, affnet_clock)
    code = totp_code(secret)
    assert two_factor.verify(user, code)
    assert not two_factor.verify(user, code), "the same code again is refused"
    assert not two_factor.verify(User.get_by_id(user.id), code), "also when read afresh from the database"


def test_two_uses_of_one_code_at_the_same_moment_pass_once(user, affnet_clock):
    """Both requests read the account before either writes: the conditional UPDATE lets one through."""
    secret, _ = turned_on(user, affnet_clock)
    first, second = User.get_by_id(user.id), User.get_by_id(user.id)
    code = totp_code(secret)
    assert [two_factor.verify(first, code), two_factor.verify(second, code)] == [True, False]


def test_a_code_of_the_step_before_still_works_and_one_two_steps_old_does_not(user, affnet_clock):
    secret, _ = turned_on(user, affnet_clock)
    now = affnet_clock.advance(seconds=60)  # neither of the two steps before was used
    assert not two_factor.verify(user, totp_code(secret, now - timedelta(seconds=60)))
    assert two_factor.verify(user, totp_code(secret, now - timedelta(seconds=30))), "a phone's clock runs late"


def test_a_code_older_than_the_last_one_used_is_refused(user, affnet_clock):
    secret, _ = turned_on(user, affnet_clock)
    assert two_factor.verify(user, totp_code(secret))
    assert not two_factor.verify(user, totp_code(secret, affnet_clock.now - timedelta(seconds=30)))


def test_a_wrong_or_malformed_code_is_refused(user, affnet_clock):
    secret, _ = turned_on(user, affnet_clock)
    right = totp_code(secret)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for code in (wrong, "", "12345", "1234567", "abcdef", None):
        assert not two_factor.verify(user, code)
    assert two_factor.verify(user, right[:3] + " " + right[3:]), "a space as the app shows it is fine"


def test_the_secret_is_encrypted_at_rest(user):
    secret = two_factor.start(user)
    raw = User.select(User.totp_secret).where(User.id == user.id).scalar()
    assert raw and secret not in raw
    assert keyring.decrypt(raw) == secret
    assert_not_stored(secret)


def test_a_set_up_not_confirmed_turns_nothing_on_and_a_new_one_replaces_it(user):
    first = two_factor.start(user)
    assert two_factor.is_pending(user) and not two_factor.is_enabled(user)
    assert not two_factor.verify(user, totp_code(first)), "an unconfirmed secret logs nobody in"
    second = two_factor.start(user)
    assert second != first
    with pytest.raises(two_factor.TwoFactorError) as refused:
        two_factor.confirm(user, totp_code(first))
    assert refused.value.reason == "code" and not two_factor.is_enabled(User.get_by_id(user.id))
    assert len(two_factor.confirm(user, totp_code(second))) == two_factor.RECOVERY_CODES


def test_confirming_needs_a_right_code_and_then_gives_ten_recovery_codes(user):
    with pytest.raises(two_factor.TwoFactorError):
        two_factor.confirm(user, "123456")  # nothing started
    secret = two_factor.start(user)
    with pytest.raises(two_factor.TwoFactorError):
        two_factor.confirm(user, f"{(int(totp_code(secret)) + 1) % 1_000_000:06d}")
    codes = two_factor.confirm(user, totp_code(secret))
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", code) for code in codes)
    assert User.get_by_id(user.id).totp_enabled_at is not None
    with pytest.raises(two_factor.TwoFactorError):
        two_factor.start(user)  # on already: turned off first, never silently replaced


def test_recovery_codes_are_stored_hashed_and_each_works_once(user, affnet_clock):
    _, codes = turned_on(user, affnet_clock)
    for code in codes:
        assert_not_stored(code)
        assert_not_stored(code.replace("-", ""))
    assert RecoveryCode.select().where(RecoveryCode.user == user.id).count() == 10
    assert two_factor.use_recovery_code(user, codes[0])
    assert not two_factor.use_recovery_code(user, codes[0]), "a recovery code works once"
    assert two_factor.use_recovery_code(user, " " + codes[1].upper().replace("-", " ") + " "), "case, spaces, dashes"
    assert two_factor.recovery_codes_left(user) == 8


def test_one_accounts_recovery_code_opens_no_other_account(user, affnet_clock, affnet_network):
    _, codes = turned_on(user, affnet_clock)
    other = affnet_network.add_affiliate("other@example.com").affiliate
    turned_on(other, affnet_clock)
    assert not two_factor.use_recovery_code(other, codes[0])
    assert two_factor.use_recovery_code(user, codes[0])


def test_new_recovery_codes_need_a_right_code_and_the_old_ones_stop(user, affnet_clock):
    secret, old = turned_on(user, affnet_clock)
    with pytest.raises(two_factor.TwoFactorError):
        two_factor.new_recovery_codes(user, "000000" if totp_code(secret) != "000000" else "111111")
    new = two_factor.new_recovery_codes(user, totp_code(secret))
    assert len(new) == 10 and not set(new) & set(old)
    assert not two_factor.use_recovery_code(user, old[0])
    assert two_factor.use_recovery_code(user, new[0])


def test_turning_off_needs_the_password_and_a_code(user, affnet_clock):
    secret, _ = turned_on(user, affnet_clock)
    with pytest.raises(two_factor.TwoFactorError) as wrong_password:
        two_factor.disable(user, "not-the-password", totp_code(secret))
    assert wrong_password.value.reason == "password"
    with pytest.raises(two_factor.TwoFactorError) as wrong_code:
        two_factor.disable(user, PASSWORD, "000000" if totp_code(secret) != "000000" else "111111")
    assert wrong_code.value.reason == "code"
    assert two_factor.is_enabled(User.get_by_id(user.id))
    two_factor.disable(user, PASSWORD, totp_code(secret))
    stored = User.get_by_id(user.id)
    assert stored.totp_secret == "" and stored.totp_enabled_at is None
    assert not RecoveryCode.select().where(RecoveryCode.user == user.id).exists()


def test_a_recovery_code_can_turn_it_off_when_the_phone_is_lost(user, affnet_clock):
    _, codes = turned_on(user, affnet_clock)
    two_factor.disable(user, PASSWORD, codes[3])
    assert not two_factor.is_enabled(User.get_by_id(user.id))


def test_the_operators_reset_clears_the_secret_and_codes_and_ends_the_accounts_sessions(user, affnet_clock):
    _, codes = turned_on(user, affnet_clock)
    version = User.get_by_id(user.id).session_version
    two_factor.reset(user)
    stored = User.get_by_id(user.id)
    assert stored.totp_secret == "" and stored.totp_enabled_at is None
    assert stored.session_version == version + 1 == user.session_version
    assert not RecoveryCode.select().where(RecoveryCode.user == user.id).exists()
    assert not two_factor.use_recovery_code(stored, codes[0])


def test_each_change_is_in_the_audit_log_with_no_secret_or_code_in_it(user, affnet_clock):
    secret = two_factor.start(user)
    first_code = totp_code(secret)
    codes = two_factor.confirm(user, first_code)
    affnet_clock.advance(seconds=30)
    two_factor.use_recovery_code(user, codes[0])
    regenerate_code = totp_code(secret)
    codes += two_factor.new_recovery_codes(user, regenerate_code)
    affnet_clock.advance(seconds=30)
    disable_code = totp_code(secret)
    two_factor.disable(user, PASSWORD, disable_code)
    two_factor.reset(user)

    entries = list(AuditEntry.select().where(AuditEntry.action.startswith("two_factor.")).order_by(AuditEntry.id))
    assert [entry.action for entry in entries] == [
        "two_factor.start",
        "two_factor.enable",
        "two_factor.recovery_used",
        "two_factor.recovery_codes",
        "two_factor.disable",
        "two_factor.reset",
    ]
    assert all(entry.account_id == user.id and entry.subject == user.email for entry in entries)
    assert entries[0].changes == {"secret": {"changed": True}}
    assert entries[1].changes["enabled"] == {"old": False, "new": True}
    assert entries[2].changes == {"recovery_codes_left": {"old": 10, "new": 9}}
    assert entries[4].changes["enabled"] == {"old": True, "new": False}
    written = json.dumps([entry.changes for entry in entries])
    for value in (secret, first_code, regenerate_code, disable_code, *codes, *(c.replace("-", "") for c in codes)):
        assert value not in written


@pytest.mark.parametrize("role, required", [("admin", True), ("advertiser", True), ("affiliate", False)])
def test_the_policy_requires_it_of_admins_and_product_owners_only(user, role, required):
    user.role = role
    assert two_factor.required(user, {"accounts.require_two_factor": True}) is required
    assert two_factor.required(user, {"accounts.require_two_factor": False}) is False


def test_the_authenticator_app_names_the_network_by_its_host(user):
    issuer = two_factor.issuer("https://network.example/")
    assert issuer == "affnet (network.example)"
    uri = two_factor.provisioning_uri(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", issuer)
    assert uri.startswith("otpauth://totp/") and "secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" in uri
    assert "issuer=affnet%20%28network.example%29" in uri and "aff%40example.com" in uri


def test_the_qr_code_is_drawn_here_as_inline_svg(monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("no network call while drawing a QR code")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    svg = two_factor.qr_svg("otpauth://totp/affnet:a%40example.com?secret=JBSWY3DPEHPK3PXP", title="QR <code>")
    assert svg.startswith("<svg") and "viewBox" in svg and "<title>QR &lt;code&gt;</title>" in svg


def test_rotating_the_encryption_keys_keeps_two_factor_log_in_working(user, affnet_clock, affnet_cli):
    secret, _ = turned_on(user, affnet_clock)
    before = User.get_by_id(user.id).totp_secret
    result = affnet_cli("keys", "rotate", "--drop-old", "--json")
    assert result.exit_code == 0, result.output
    stored = User.get_by_id(user.id)
    assert stored.totp_secret != before
    assert two_factor.verify(stored, totp_code(secret)), "the secret decrypts under the new key alone"


def test_the_operator_resets_an_accounts_two_factor_from_the_command_line(user, affnet_clock, affnet_cli):
    turned_on(user, affnet_clock)
    result = affnet_cli("users", "reset-two-factor", "AFF@example.com", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"email": "aff@example.com", "two_factor_was_on": True, "sessions_ended": True}
    assert not two_factor.is_enabled(User.get_by_id(user.id))
    entry = AuditEntry.get(AuditEntry.action == "two_factor.reset")
    assert entry.actor_id is None and entry.actor_label.startswith("command line")
    assert affnet_cli("users", "reset-two-factor", "nobody@example.com").exit_code != 0
