"""The pixel settings an affiliate fills in, checked before they are saved."""

import pytest

from affnet.core.deliveries.setting_versions import SettingsError, validate
from affnet_fb_capi.plugin import PIXEL

TOKEN = "EAAGm0PX4ZCpsBAJZCsettingsTOKEN42"


def test_pixel_id_and_access_token_are_required():
    with pytest.raises(SettingsError) as refused:
        validate(PIXEL, {"test_event_code": "TEST1"})
    assert set(refused.value.fields) == {"pixel_id", "access_token"}


@pytest.mark.parametrize(
    "values, field",
    [
        ({"pixel_id": "my-pixel", "access_token": TOKEN}, "pixel_id"),
        ({"pixel_id": "1234567890123", "access_token": TOKEN + " "}, "access_token"),
        ({"pixel_id": "1234567890123", "access_token": TOKEN, "test_event_code": "TEST 1"}, "test_event_code"),
    ],
)
def test_a_pixel_id_must_be_digits_and_codes_must_have_no_spaces(values, field):
    with pytest.raises(SettingsError) as refused:
        validate(PIXEL, values)
    assert list(refused.value.fields) == [field]


def test_the_access_token_is_a_secret_field_and_only_it():
    assert [field.name for field in PIXEL.fields if field.secret] == ["access_token"]


def test_saving_a_test_event_code_warns_that_every_event_goes_out_with_it():
    assert validate(PIXEL, {"pixel_id": "1234567890123", "access_token": TOKEN}) == []
    warnings = validate(PIXEL, {"pixel_id": "1234567890123", "access_token": TOKEN, "test_event_code": "TEST1"})
    assert len(warnings) == 1 and "every event" in warnings[0]
