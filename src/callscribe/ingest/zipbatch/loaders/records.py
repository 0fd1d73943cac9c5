"""Loaders of services, transactions and activities."""

from __future__ import annotations

from callscribe.accounts.models import Activity, Agent
from callscribe.calls.models import Engagement
from callscribe.crm.models import Customer, Service, Transaction
from callscribe.ingest.zipbatch.loaders.base import (
    Item,
    Loader,
    MessageCode,
    Outcome,
    Rejected,
    reference,
    upsert_by_pid,
)


class ServicesLoader(Loader):
    data_set = "services"
    fields = frozenset({"name", "category", "attributes"})

    def load_item(self, item: Item) -> Outcome:
        name = item.label("name")
        if not name:
            raise Rejected(MessageCode.MISSING_FIELD, "name is required.")
        values = {"name": name, "category": item.label("category"), "attributes": item.attributes()}
        return upsert_by_pid(item, Service, values)[1]


class TransactionsLoader(Loader):
    data_set = "transactions"
    fields = frozenset(
        {
            "engagement_id",
            "customer_id",
            "agent_id",
            "service_id",
            "kind",
            "occurred_at",
            "revenue",
            "cost",
            "currency",
            "attributes",
            "facts",
        }
    )

    def load_item(self, item: Item) -> Outcome:
        currency = item.text("currency", max_len=3)
        if currency is not None and (len(currency) != 3 or not currency.isalpha()):
            raise Rejected(MessageCode.BAD_VALUE, "currency must be a three-letter ISO 4217 code.")
        values = {
            "engagement_id": reference(item, "engagements", Engagement, "engagement_id"),
            "customer_id": reference(item, "customers", Customer, "customer_id"),
            "agent_id": reference(item, "agents", Agent, "agent_id"),
            "service_id": reference(item, "services", Service, "service_id"),
            "kind": item.label("kind"),
            "occurred_at": item.moment("occurred_at"),
            "revenue": item.number("revenue"),
            "cost": item.number("cost"),
            "currency": currency.upper() if currency else None,
            "attributes": item.attributes(),
            "facts": item.facts(),
        }
        return upsert_by_pid(item, Transaction, values)[1]


class ActivitiesLoader(Loader):
    data_set = "activities"
    fields = frozenset({"agent_id", "status", "started_at", "ended_at", "duration_s", "attributes"})

    def load_item(self, item: Item) -> Outcome:
        status = item.label("status")
        if not status:
            raise Rejected(MessageCode.MISSING_FIELD, "status is required.")
        started = item.moment("started_at", required=True)
        ended = item.moment("ended_at")
        duration = item.seconds("duration_s")
        if started is not None and ended is not None:
            if ended < started:
                raise Rejected(MessageCode.BAD_VALUE, "ended_at is before started_at.")
            if duration is None:
                duration = (ended - started).total_seconds()
        values = {
            "agent_id": reference(item, "agents", Agent, "agent_id"),
            "status": status,
            "started_at": started,
            "ended_at": ended,
            "duration_s": duration,
            "attributes": item.attributes(),
        }
        return upsert_by_pid(item, Activity, values)[1]
