"""``affnet fb-capi set``: an affiliate's pixel settings, with the access
token kept off the command line.

``affnet settings set fb_capi access_token=…`` takes the token as an
argument, which every user of the machine can read (``ps``, /proc) and which
stays in the shell's history. This command saves the same settings version,
through ``settings set`` itself (validation, the 24-hour rule, the masked
output), with the token read from a hidden prompt (the default), from
``--token-file PATH``, or from standard input (``--token-file -``, for a
pipe from a secrets manager). ``--token`` still works for scripts that use
it; its help says what it costs.
"""

import click

from affnet.plugins import JSON_OPTION, settings_set

from . import KIND


def _read_token(token: str | None, token_file) -> str:
    if token is not None and token_file is not None:
        raise click.UsageError("give the token one way: --token-file or --token, not both")
    if token_file is not None:
        text = token_file.read()
    elif token is not None:
        text = token
    else:
        text = click.prompt("Conversions API access token (hidden)", hide_input=True, default="", show_default=False)
    token = (text or "").strip()
    if not token:
        raise click.ClickException("no access token given; nothing was saved")
    return token


@click.group("fb-capi")
def fb_capi():
    """Affiliates' own Meta pixels, sent through the Conversions API (plugin fb_capi)."""


@fb_capi.command("set")
@click.option("--affiliate", "email", required=True, help="The affiliate's email.")
@click.option("--ref", default=None, help="The participation's refCode (default: all the affiliate's offers).")
@click.option("--pixel-id", required=True, help="The Pixel ID Events Manager shows (digits).")
@click.option("--test-event-code", default=None, help="Events Manager's Test Event Code, while testing.")
@click.option(
    "--token-file",
    type=click.File("r"),
    default=None,
    help="Read the access token from this file ('-' for standard input) instead of a hidden prompt.",
)
@click.option(
    "--token",
    default=None,
    help="The access token itself. Avoid it: a command line is visible to other users of this "
    "machine (ps) and stays in the shell's history; use the prompt or --token-file.",
)
@JSON_OPTION
@click.pass_context
def set_pixel(ctx, email, ref, pixel_id, test_event_code, token_file, token, as_json):
    """Save a new version of an affiliate's pixel settings (the 24-hour rule
    applies); the token is stored encrypted and shown only as its last four
    characters."""
    pairs = [f"pixel_id={pixel_id}", f"access_token={_read_token(token, token_file)}"]
    if test_event_code:
        pairs.append(f"test_event_code={test_event_code}")
    ctx.invoke(
        settings_set, kind_name=KIND, pairs=tuple(pairs), email=email, ref=ref, preset=None, off=False, as_json=as_json
    )
