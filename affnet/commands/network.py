"""Commands that make the network: users, offers, participations, demo data."""

import click

from .common import JSON_OPTION, checked, emit, table, user_by_email, with_db
from ..core.network import accounts
from ..core.network import users as users_domain
from ..core.storage.models import Offer, Participation, User


def _user(email: str) -> User:
    return user_by_email(email)


def _offer(slug: str) -> Offer:
    offer = Offer.get_or_none(Offer.slug == slug)
    if offer is None:
        raise click.ClickException(f"no offer {slug!r}")
    return offer


def _participation(ref: str) -> Participation:
    participation = Participation.get_or_none(Participation.ref_code == ref)
    if participation is None:
        raise click.ClickException(f"no participation with the refCode {ref!r}")
    return participation


def _checked(function, *args, **kwargs):
    return checked(accounts.AccountError, function, *args, **kwargs)


@click.group()
def users():
    """Operators, product owners and affiliates."""


@users.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "advertiser", "affiliate"]), required=True)
@click.option("--name", default="")
@click.option("--password", default=None, help="Default: a generated one, printed once.")
@JSON_OPTION
@with_db
def users_create(services, email, role, name, password, as_json):
    """Create a user; prints the password once."""
    user, password = _checked(accounts.create_user, email, role, name=name, password=password)
    emit({"id": user.id, "email": user.email, "role": user.role, "password": password}, as_json)


def _user_row(user: User) -> dict:
    state = "disabled" if not user.is_active else "waiting" if user.approved_at is None else "active"
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "state": state,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
    }


@users.command("list")
@click.option("--role", type=click.Choice(["admin", "advertiser", "affiliate"]), default=None)
@click.option("--waiting", is_flag=True, help="Only sign-ups waiting for approval.")
@JSON_OPTION
@with_db
def users_list(services, role, waiting, as_json):
    """Every account with its role and state (active, waiting for approval, disabled).

    Also on the page /admin/users."""
    query = User.select().order_by(User.id)
    if role:
        query = query.where(User.role == role)
    if waiting:
        query = query.where(User.approved_at.is_null())
    rows = [_user_row(user) for user in query]
    emit(rows, as_json, table(rows, ["email", "role", "state", "name", "last_login_at"], "no users"))


def _set_state(email: str, change, as_json: bool) -> None:
    user = change(_user(email))
    emit(_user_row(user), as_json, f"{user.email}: {_user_row(user)['state']}")


@users.command("approve")
@click.argument("email")
@JSON_OPTION
@with_db
def users_approve(services, email, as_json):
    """Let a sign-up log in.

    Also on the page /admin/users."""
    _set_state(email, users_domain.approve, as_json)


@users.command("disable")
@click.argument("email")
@JSON_OPTION
@with_db
def users_disable(services, email, as_json):
    """Stop an account from logging in; its sessions end at once. Its data stays.

    Also on the page /admin/users."""
    _set_state(email, lambda user: users_domain.set_active(user, False), as_json)


@users.command("enable")
@click.argument("email")
@JSON_OPTION
@with_db
def users_enable(services, email, as_json):
    """Let a disabled account log in again.

    Also on the page /admin/users."""
    _set_state(email, lambda user: users_domain.set_active(user, True), as_json)


@users.command("reset-password")
@click.argument("email")
@JSON_OPTION
@with_db
def users_reset_password(services, email, as_json):
    """Print a one-time link to set a new password (24 hours; shown once; hand it over yourself).

    Also on the page /admin/users."""
    user = _user(email)
    token = users_domain.reset_link_token(user)
    link = f"{services.settings['base_url'].rstrip('/')}/reset/{token}"
    emit(
        {"email": user.email, "link": link, "valid_hours": users_domain.RESET_HOURS},
        as_json,
        f"{link}\n(works once, for {users_domain.RESET_HOURS} hours; this is the only time it is shown)",
    )


@users.command("reset-two-factor")
@click.argument("email")
@JSON_OPTION
@with_db
def users_reset_two_factor(services, email, as_json):
    """Turn off an account's two-factor log-in (a lost phone and lost recovery codes); its sessions end.

    The account logs in with its password alone, and sets two-factor log-in up again (at once, when the
    network requires it for its role). Also on the page /admin/users."""
    from ..core.network import two_factor

    user = _user(email)
    was_on = two_factor.is_enabled(user)
    two_factor.reset(user)
    text = f"{user.email}: two-factor log-in {'reset' if was_on else 'was not on; nothing else to reset'}"
    emit({"email": user.email, "two_factor_was_on": was_on, "sessions_ended": True}, as_json, text + "; sessions ended")


@click.group()
def offers():
    """Offers of product owners."""


@offers.command("create")
@click.argument("name")
@click.option("--advertiser", "advertiser_email", required=True, help="The owner's email.")
@click.option("--landing-url", required=True)
@click.option("--currency", default="USD", show_default=True)
@click.option("--cookie-days", default=60, show_default=True, type=int)
@click.option("--hold-days", default=7, show_default=True, type=int)
@click.option(
    "--rule",
    "rules",
    multiple=True,
    metavar="EVENT=AMOUNT[%][:MONTHS]",
    help="A commission rule, e.g. sale=30% lead=1.50 rebill=20%:12; repeatable.",
)
@JSON_OPTION
@with_db
def offers_create(services, name, advertiser_email, landing_url, currency, cookie_days, hold_days, rules, as_json):
    """Create an offer; prints its key once.

    Also on the page /owner/offers/new (the product owner's, or the operator's)."""
    specs = [_checked(accounts.RuleSpec.parse, rule) for rule in rules]
    offer, key = _checked(
        accounts.create_offer,
        _user(advertiser_email),
        name,
        landing_url,
        currency=currency,
        cookie_days=cookie_days,
        hold_days=hold_days,
        rules=specs,
    )
    emit(
        {
            "id": offer.id,
            "slug": offer.slug,
            "name": offer.name,
            "currency": offer.currency,
            "offer_key": key,
            "rules": [rule for rule in rules],
        },
        as_json,
    )


@offers.command("rotate-key")
@click.argument("slug")
@JSON_OPTION
@with_db
def offers_rotate_key(services, slug, as_json):
    """Give an offer a new key; the old one stops working at once.

    Also on the offer's page /owner/offers/SLUG."""
    key = accounts.rotate_offer_key(_offer(slug))
    emit({"slug": slug, "offer_key": key}, as_json)


def _offer_row(offer: Offer) -> dict:
    return {
        "slug": offer.slug,
        "name": offer.name,
        "advertiser": offer.advertiser.email,
        "currency": offer.currency,
        "active": offer.is_active,
        "public": offer.is_public,
        "approval": offer.approval,
        "landing_url": offer.landing_url,
        "key": offer.key_hint,
        "rules": {
            rule.event: f"{rule.amount.normalize():f}{'%' if rule.kind == 'percent' else ''}" for rule in offer.rules
        },
    }


@offers.command("list")
@JSON_OPTION
@with_db
def offers_list(services, as_json):
    """Every offer with its owner, terms and state.

    Also on the page /admin/offers."""
    rows = [_offer_row(offer) for offer in Offer.select().order_by(Offer.id)]
    shown = [
        {
            **row,
            "state": "active" if row["active"] else "paused",
            "rules": " ".join(f"{event}={amount}" for event, amount in sorted(row["rules"].items())),
        }
        for row in rows
    ]
    emit(rows, as_json, table(shown, ["slug", "currency", "state", "approval", "advertiser", "rules"], "no offers"))


@offers.command("edit")
@click.argument("slug")
@click.option("--landing-url", default=None)
@click.option(
    "--rule", "rules", multiple=True, help="sale=30%, lead=1.50 or rebill=20%:12; replaces that event's rule."
)
@click.option(
    "--approval",
    type=click.Choice(["manual", "auto"]),
    default=None,
    help="manual: the owner approves each application; auto: approved at once.",
)
@click.option("--public/--private", default=None, help="Shown in the marketplace or not.")
@click.option("--active/--paused", default=None, help="Pause an offer: its links answer 404 (or the fallback).")
@JSON_OPTION
@with_db
def offers_edit(services, slug, landing_url, rules, approval, public, active, as_json):
    """Change an offer; a commission rule applies to events from now on.

    Also on the offer's page /owner/offers/SLUG."""
    offer = _offer(slug)
    specs = [_checked(accounts.RuleSpec.parse, text) for text in rules]
    _checked(accounts.edit_offer, offer, landing_url=landing_url, approval=approval, public=public)
    for spec in specs:
        accounts.set_rule(offer, spec)
    if active is not None:
        accounts.set_offer_active(offer, active)
    offer = Offer.get_by_id(offer.id)
    emit(_offer_row(offer), as_json)


@click.group()
def participations():
    """Affiliates' places on offers (their refCodes)."""


@participations.command("create")
@click.option("--affiliate", "affiliate_email", required=True)
@click.option("--offer", "slug", required=True)
@click.option("--pending", is_flag=True, help="Leave it pending instead of approving it.")
@JSON_OPTION
@with_db
def participations_create(services, affiliate_email, slug, pending, as_json):
    """Add an affiliate to an offer (approved unless --pending); prints the refCode."""
    participation = _checked(accounts.apply, _user(affiliate_email), _offer(slug))
    if not pending:
        accounts.set_participation_status(participation, "approved")
    base = services.settings["base_url"]
    emit(
        {
            "ref_code": participation.ref_code,
            "status": participation.status,
            "offer": slug,
            "affiliate": affiliate_email,
            "link": f"{base}/r?ref={participation.ref_code}",
        },
        as_json,
    )


@participations.command("list")
@click.option("--affiliate", "affiliate_email", default=None)
@click.option("--offer", "slug", default=None)
@click.option("--status", type=click.Choice(["pending", "approved", "rejected", "paused"]), default=None)
@JSON_OPTION
@with_db
def participations_list(services, affiliate_email, slug, status, as_json):
    """Affiliates on offers with their refCodes and links (a lost refCode is found here).

    Also on the page /admin/participations."""
    query = Participation.select(Participation, Offer, User).join(Offer).switch(Participation).join(User)
    if affiliate_email:
        query = query.where(Participation.affiliate == _user(affiliate_email).id)
    if slug:
        query = query.where(Participation.offer == _offer(slug).id)
    if status:
        query = query.where(Participation.status == status)
    base = services.settings["base_url"].rstrip("/")
    rows = [
        {
            "ref_code": p.ref_code,
            "offer": p.offer.slug,
            "affiliate": p.affiliate.email,
            "status": p.status,
            "link": f"{base}/r?ref={p.ref_code}",
            "created_at": p.created_at,
        }
        for p in query.order_by(Participation.id)
    ]
    emit(rows, as_json, table(rows, ["ref_code", "offer", "affiliate", "status", "link"], "no participations"))


@participations.command("set-status")
@click.argument("ref")
@click.argument("status", type=click.Choice(["approved", "rejected", "paused", "pending"]))
@JSON_OPTION
@with_db
def participations_set_status(services, ref, status, as_json):
    """Approve, reject, pause or resume a participation.

    Also on the page /admin/participations."""
    participation = accounts.set_participation_status(_participation(ref), status)
    emit({"ref_code": participation.ref_code, "status": participation.status}, as_json)


@click.command()
@JSON_OPTION
@with_db
def demo(services, as_json):
    """Fill a new database with a small demo network (the offer "Susurra")."""
    from ..core.demo import DemoExists, make_demo

    try:
        result = make_demo(
            services.recorder, base_url=services.settings["base_url"], progress=None if as_json else click.echo
        )
    except DemoExists as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        emit(result, True)
        return
    click.echo(f"offer key of Susurra: {result['offer_key']}  (shown this once)")
    for affiliate in result["affiliates"]:
        click.echo(
            f"{affiliate['email']}: refCode {affiliate['ref_code']}  link {affiliate['link']}"
            f"  password {affiliate['password']}"
        )
    click.echo(f"advertiser {result['advertiser']['email']} password {result['advertiser']['password']}")
    click.echo(f"demo ready: {result['clicks']} clicks, {result['events']} events")


def register(cli):
    for command in (users, offers, participations, demo):
        cli.add_command(command)
