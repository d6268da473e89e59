"""Commands that make the network: users, offers, participations, demo data."""

import click

from .common import JSON_OPTION, emit, with_db
from ..core.network import accounts
from ..core.storage.models import Offer, Participation, User


def _user(email: str) -> User:
    user = User.get_or_none(User.email == email.lower())
    if user is None:
        raise click.ClickException(f"no user with the email {email}")
    return user


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
    try:
        return function(*args, **kwargs)
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from None


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
    """Create an offer; prints its key once."""
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
    """Give an offer a new key; the old one stops working at once."""
    key = accounts.rotate_offer_key(_offer(slug))
    emit({"slug": slug, "offer_key": key}, as_json)


@offers.command("list")
@JSON_OPTION
@with_db
def offers_list(services, as_json):
    """Every offer with its owner and state."""
    rows = [
        {
            "slug": offer.slug,
            "name": offer.name,
            "advertiser": offer.advertiser.email,
            "currency": offer.currency,
            "active": offer.is_active,
            "key": offer.key_hint,
            "rules": {rule.event: f"{rule.amount}{'%' if rule.kind == 'percent' else ''}" for rule in offer.rules},
        }
        for offer in Offer.select().order_by(Offer.id)
    ]
    emit(
        rows,
        as_json,
        "\n".join(
            f"{row['slug']:<20} {row['currency']} {'active' if row['active'] else 'paused'} "
            f"{row['advertiser']} {row['rules']}"
            for row in rows
        )
        or "no offers",
    )


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


@participations.command("set-status")
@click.argument("ref")
@click.argument("status", type=click.Choice(["approved", "rejected", "paused", "pending"]))
@JSON_OPTION
@with_db
def participations_set_status(services, ref, status, as_json):
    """Approve, reject, pause or resume a participation."""
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
