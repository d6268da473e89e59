"""The JSON the client sends carries amounts as exact numbers, and Wise's
error answers are read for Wise's own words."""

import json
from decimal import Decimal

import pytest

from affnet_payout_wise.client import json_text, wise_message


@pytest.mark.parametrize("amount, text", [("125.50", "125.50"), ("0.10", "0.10"), ("1000", "1000"), ("1E+2", "100")])
def test_a_decimal_amount_is_written_as_the_exact_json_number(amount, text):
    body = json_text({"targetAmount": Decimal(amount), "reference": "affnet payout 42"})

    assert body == f'{{"targetAmount": {text}, "reference": "affnet payout 42"}}'
    assert json.loads(body, parse_float=Decimal)["targetAmount"] == Decimal(amount)


def test_a_non_finite_amount_is_not_written():
    with pytest.raises(TypeError):
        json_text({"targetAmount": Decimal("NaN")})
    assert json_text({"rate": 1}) == '{"rate": 1}'


@pytest.mark.parametrize(
    "answer, said",
    [
        (
            {"errors": [{"code": "NOT_VALID", "message": "Please specify a valid IBAN", "path": "iban"}]},
            ("Please specify a valid IBAN", "NOT_VALID"),
        ),
        ({"error": "invalid_token", "error_description": "Invalid token"}, ("Invalid token", "invalid_token")),
        (
            {"timestamp": "2020-01-03T12:34:56Z", "status": 403, "error": "Forbidden", "message": "You are forbidden"},
            ("You are forbidden", "Forbidden"),
        ),
    ],
)
def test_wises_error_shapes_give_wises_own_message(answer, said):
    assert wise_message(json.dumps(answer)) == said


def test_an_answer_that_is_not_json_is_quoted_cut_and_on_one_line():
    assert wise_message("<html>\n<h1>502 Bad Gateway</h1>\n</html>" + "x" * 300)[0].startswith("<html> <h1>502")
    assert len(wise_message("x" * 300)[0]) == 200
