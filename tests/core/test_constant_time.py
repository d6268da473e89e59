"""Secrets are compared in constant time: no ``==``, ``!=``, ``in`` or ``not in`` in affnet or a bundled plugin
has an operand named like a secret (a key, token, signature, password, hash, recovery code, TOTP...) unless it is in the
allow-list below with the reason it cannot leak a secret through its timing.

What compares secrets instead, each in constant time:
- passwords: werkzeug's ``check_password_hash`` (``hmac.compare_digest`` of scrypt hashes);
- TOTP codes: ``pyotp.utils.strings_equal`` (``hmac.compare_digest``);
- offer keys, stats tokens, reset links, recovery codes: hashed with SHA-256 and looked up by the hash (a
  dict in memory or an indexed column): the time a lookup takes depends on the hash, which tells nothing
  of the secret's characters, so a guess learns nothing from it;
- CSRF tokens: Flask-WTF (``hmac.compare_digest``); Stripe's signatures: ``stripe.Webhook.construct_event``
  (``hmac.compare_digest``).
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET_NAME = re.compile(
    r"secret|token|signature|passw|_hash$|^hash_|_hash_|digest|csrf|hmac|api_key|offer_key|recovery|otp|^sig$",
    re.IGNORECASE,
)
LOOKUP_BY_HASH = "a database lookup by the SHA-256 of the secret: its time says nothing of the secret"

# (file, the comparison as written): why it is fine
ALLOWED = {
    ("affnet/core/network/accounts.py", "Offer.key_hash == key_hash"): LOOKUP_BY_HASH,
    ("affnet/core/network/api_tokens.py", "ApiToken.token_hash == hash_token(token)"): LOOKUP_BY_HASH,
    ("affnet/core/network/users.py", 'PasswordReset.token_hash == hash_token(token or "")'): LOOKUP_BY_HASH,
    ("affnet/core/network/two_factor.py", "RecoveryCode.code_hash == _recovery_hash(user, normal)"): LOOKUP_BY_HASH,
    ("affnet/core/network/two_factor.py", "User.totp_secret == user.totp_secret"): (
        "a conditional UPDATE that claims a step: compares the stored ciphertext with itself, nothing a caller typed"
    ),
    ("affnet/core/network/two_factor.py", "len(normal) != RECOVERY_LENGTH"): "the length every recovery code has",
    ("affnet/core/network/two_factor.py", 'User.totp_secret != ""'): "whether a secret is set at all",
    ("affnet/core/network/audit.py", "name in secret"): "a field's name in the set of secret fields' names",
    ("affnet/core/storage/secrets.py", "password == MASK"): "the *** placeholder of a masked URL",
    ("affnet/plugins/senders.py", "secret in text"): "masks our own secret in a message before it is logged",
    ("affnet/testing/helpers.py", "secret in str(value)"): "a test helper: looks for a secret stored in clear",
    ("plugins/fb_capi/affnet_fb_capi/plugin.py", "token != token.strip()"): "form validation of a token being saved",
    ("plugins/fb_capi/affnet_fb_capi/plugin.py", '" " in token'): "form validation of a token being saved",
    ("plugins/fb_capi/affnet_fb_capi/answers.py", "code in TOKEN_CODES"): "Meta's error codes, not a secret",
    ("plugins/payout_paypal/affnet_payout_paypal/tokens.py", "held.token != stale"): (
        "PayPal's access token held against the one that failed: both ours, nothing a caller typed"
    ),
}


def _name(operand: ast.expr) -> str:
    """What an operand is called: a variable, an attribute, a called function, a looked-up key."""
    if isinstance(operand, ast.Name):
        return operand.id
    if isinstance(operand, ast.Attribute):
        return operand.attr
    if isinstance(operand, ast.Call):
        if isinstance(operand.func, ast.Name) and operand.func.id in ("len", "str"):
            return _name(operand.args[0]) if operand.args and operand.func.id == "str" else ""
        return _name(operand.func)
    if isinstance(operand, ast.Subscript):
        key = operand.slice
        return key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else _name(operand.value)
    return ""


def secret_comparisons(path: Path, source: str) -> list[tuple[str, int, str]]:
    """Every ``==``/``!=``/``in``/``not in`` of ``source`` with an operand named like a secret, as
    (path, line, the comparison as written); comparisons with a literal (``len(code) != 6``) count too."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        if not any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops):
            continue
        operands = [node.left, *node.comparators]
        named = [_name(operand) for operand in operands]
        if len(node.ops) == 1 and isinstance(node.left, ast.Call) and _name(node.left) == "":
            named = [_name(node.left.args[0]) if node.left.args else "", *named[1:]]
        if any(SECRET_NAME.search(name) and not name.endswith(("_id", "_ids")) for name in named if name):
            found.append((str(path), node.lineno, ast.get_source_segment(source, node)))
    return found


def scanned_files() -> list[Path]:
    return sorted([*ROOT.glob("affnet/**/*.py"), *ROOT.glob("plugins/*/affnet_*/**/*.py")])


def test_no_secret_is_compared_with_eq_ne_or_in_outside_the_allow_list():
    found = [
        f"{path}:{line}: {text}"
        for file in scanned_files()
        for path, line, text in secret_comparisons(file.relative_to(ROOT), file.read_text())
        if (path, text) not in ALLOWED
    ]
    assert not found, "compare secrets with hmac.compare_digest (or look them up by hash):\n" + "\n".join(found)


def test_every_allowed_comparison_is_still_there():
    seen = {
        (path, text)
        for file in scanned_files()
        for path, _, text in secret_comparisons(file.relative_to(ROOT), file.read_text())
    }
    assert set(ALLOWED) - seen == set(), "drop the allow-list entries of comparisons that are gone"


def test_the_scan_catches_a_direct_comparison_of_a_secret():
    source = (
        "def check(request, offer):\n"
        "    if request.headers['X-Signature'] != offer.webhook_secret:\n"
        "        return False\n"
        "    return request.args['token'] in valid_tokens or key_hash == stored\n"
        "def fine(a, b):\n"
        "    return hmac.compare_digest(a, b) and len(a) == 3\n"
    )
    found = [text for _, _, text in secret_comparisons(Path("x.py"), source)]
    assert found == [
        "request.headers['X-Signature'] != offer.webhook_secret",
        "request.args['token'] in valid_tokens",
        "key_hash == stored",
    ]
