"""Loaders of the people data sets: agents, customers, external agents."""

from __future__ import annotations

import uuid
from contextlib import suppress

from sqlalchemy import delete, select

from callscribe.accounts.models import Agent, ExternalAgent
from callscribe.crm import service as crm
from callscribe.crm.models import Customer, CustomerIdentity
from callscribe.errors import ValidationFailed
from callscribe.ingest.zipbatch.loaders.base import (
    Item,
    Loader,
    MessageCode,
    Outcome,
    Rejected,
    apply,
    upsert_by_pid,
)


class AgentsLoader(Loader):
    data_set = "agents"
    fields = frozenset(
        {
            "name",
            "email",
            "phone",
            "extension_id",
            "team",
            "department",
            "location",
            "is_bot",
            "is_technical",
            "attributes",
        }
    )

    def load_item(self, item: Item) -> Outcome:
        email = item.text("email", max_len=320)
        values = {
            "name": item.label("name") or "",
            "email": email.lower() if email else None,
            "phone": item.text("phone", max_len=40),
            "extension_id": item.text("extension_id", max_len=100),
            "team": item.label("team"),
            "department": item.label("department"),
            "location": item.label("location"),
            "is_bot": bool(item.flag("is_bot")),
            "is_technical": bool(item.flag("is_technical")),
            "attributes": item.attributes(),
        }
        if not values["name"]:
            raise Rejected(MessageCode.MISSING_FIELD, "name is required.")
        _row, outcome = upsert_by_pid(item, Agent, values)
        return outcome


class ExternalAgentsLoader(Loader):
    data_set = "external_agents"
    fields = frozenset({"name", "organization", "attributes"})

    def load_item(self, item: Item) -> Outcome:
        values = {
            "name": item.text("name", required=True) or "",
            "organization": item.label("organization"),
            "attributes": item.attributes(),
        }
        _row, outcome = upsert_by_pid(item, ExternalAgent, values)
        return outcome


class CustomersLoader(Loader):
    """Customers by PID; their phones (E.164) and emails also become identities, so a
    later call from that number finds them (crm.resolve_customer)."""

    data_set = "customers"
    fields = frozenset({"name", "phones", "emails", "company_name", "stage", "tags"})

    def load_item(self, item: Item) -> Outcome:
        chunk = item.chunk
        phones: list[str] = []
        for raw in item.strings("phones"):
            e164 = crm.try_normalize_phone(raw)
            if e164 is None:
                item.warn(
                    MessageCode.BAD_VALUE, f"phone {raw[:40]!r} is not a phone number; ignored."
                )
            elif e164 not in phones:
                phones.append(e164)
        emails: list[str] = []
        for raw in item.strings("emails"):
            clean = None
            with suppress(ValidationFailed):
                clean = crm.normalize_email(raw)
            if clean is None:
                item.warn(MessageCode.BAD_VALUE, f"email {raw[:60]!r} is not an email; ignored.")
            elif clean not in emails:
                emails.append(clean)
        values = {
            "name": item.text("name"),
            "phones": phones,
            "emails": emails,
            "company_name": item.text("company_name"),
            "stage": item.label("stage"),
            "tags": [
                t for t in (item.label("tags", t, given=True) for t in item.strings("tags")) if t
            ],
        }
        pid = item.pid()
        row = chunk.session.scalars(
            select(Customer).where(Customer.company_id == chunk.company_id, Customer.pid == pid)
        ).first()
        if row is None:
            row = Customer(
                id=uuid.uuid4(), company_id=chunk.company_id, pid=pid, custom_fields={}, **values
            )
            chunk.session.add(row)
            outcome = Outcome.CREATED
            identities_changed = True
        else:
            identities_changed = (row.phones, row.emails) != (phones, emails)
            outcome = Outcome.UPDATED if apply(row, values) else Outcome.UNCHANGED
        chunk.session.flush()
        if identities_changed:
            chunk.session.execute(
                delete(CustomerIdentity).where(CustomerIdentity.customer_id == row.id)
            )
            for kind, found in (("phone", phones), ("email", emails)):
                for value in found:
                    chunk.session.add(
                        CustomerIdentity(
                            company_id=chunk.company_id, customer_id=row.id, kind=kind, value=value
                        )
                    )
            chunk.session.flush()
        chunk.refs[("customers", item.id)] = row.id
        return outcome
