"""An offer's landing URL: what is accepted."""

import pytest

from affnet.core.network import accounts
from affnet.core.storage.models import Offer


@pytest.mark.parametrize(
    "landing", ["https://tienda.example/\x00start", "https://tienda.example/a\nb", "https://t.example/\t"]
)
def test_a_landing_url_with_control_characters_is_refused_and_nothing_is_written(affnet_network, landing):
    with pytest.raises(accounts.AccountError, match="control characters"):
        accounts.create_offer(affnet_network.advertiser, "Ruido", landing)
    assert not Offer.select().where(Offer.name == "Ruido").exists()
