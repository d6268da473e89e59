"""The plugin boundary: hook specs, the manager, and the shapes plugins use."""
from ..core.events import ClickInfo, EventInfo, OfferInfo
from .types import (
    DeliveryKind, DeliveryResult, NewDelivery, OutgoingDelivery, PayoutMethod,
    PayoutRequest, PayoutResult, SettingField,
)

__all__ = [
    "ClickInfo", "EventInfo", "OfferInfo", "DeliveryKind", "DeliveryResult",
    "NewDelivery", "OutgoingDelivery", "PayoutMethod", "PayoutRequest",
    "PayoutResult", "SettingField",
]
