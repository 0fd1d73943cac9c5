"""The connector types, listed once. A new provider is one module implementing
base.ConnectorType plus one entry here (no registration by import side effect)."""

from __future__ import annotations

from callscribe.connectors.aircall import AircallConnector
from callscribe.connectors.amazon_connect import AmazonConnectConnector
from callscribe.connectors.base import ConnectorType
from callscribe.connectors.cloudvoice import CloudVoiceConnector
from callscribe.connectors.cloudvoice_call_center import CloudVoiceCallCenterConnector
from callscribe.connectors.freshdesk import FreshdeskConnector
from callscribe.connectors.ringcentral import RingCentralConnector
from callscribe.connectors.twilio import TwilioConnector
from callscribe.connectors.zendesk import ZendeskConnector
from callscribe.errors import BadRequest, ErrorCode

CONNECTOR_TYPES: dict[str, type[ConnectorType]] = {
    cls.type: cls
    for cls in (
        CloudVoiceConnector,
        CloudVoiceCallCenterConnector,
        TwilioConnector,
        AircallConnector,
        ZendeskConnector,
        FreshdeskConnector,
        RingCentralConnector,
        AmazonConnectConnector,
    )
}


def connector_types() -> dict[str, type[ConnectorType]]:
    return dict(CONNECTOR_TYPES)


def get_connector_type(name: str) -> type[ConnectorType]:
    cls = CONNECTOR_TYPES.get(name)
    if cls is None:
        raise BadRequest(
            f"Unknown connector type {name!r}; choose one of {', '.join(sorted(CONNECTOR_TYPES))}.",
            code=ErrorCode.UNKNOWN_CONNECTOR_TYPE,
        )
    return cls
