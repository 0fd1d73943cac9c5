"""JSON API of customers: add one, a bulk array or a CSV file with duplicate detection;
the pipeline of stages; custom field definitions; call-to-customer links."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pydantic_core import from_json
from sqlalchemy.orm import Session

from callscribe.auth.deps import CurrentPrincipal, DbSession, check, require
from callscribe.auth.permissions import Permission
from callscribe.auth.principal import Principal
from callscribe.calls import service as calls
from callscribe.crm import service
from callscribe.crm.models import Customer
from callscribe.crm.schemas import (
    CrmObjectOut,
    CustomerIn,
    CustomerOut,
    CustomerPage,
    FieldDefOut,
    FieldDefsIn,
    FieldDefsOut,
    ImportResult,
    LinkOut,
    RowResultOut,
    StagesIn,
    StagesOut,
)
from callscribe.db import session_scope
from callscribe.errors import (
    BadRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    from_validation,
)
from callscribe.kit.pagination import PageNumber, PageSize

router = APIRouter(prefix="/api", tags=["customers"])
CustomerWriter = Annotated[Principal, Depends(require(Permission.CUSTOMERS_WRITE))]

OnDuplicate = Literal["skip", "update", "create"]
MAX_BULK_ROWS = 20_000
MAX_BODY = 32 * 1024 * 1024
ON_DUPLICATE = Query(
    "skip",
    description="An exact duplicate (same E.164 phone or normalised email): `skip` it, "
    "`update` the existing customer with this row, or `create` another one anyway.",
)
REGION = Query(
    "US",
    pattern="^[A-Z]{2}$",
    description="Country for phone numbers written without +country code (ISO 3166-1).",
)
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad request"},
    401: {"description": "Missing or invalid credentials"},
    404: {"description": "Not found"},
    413: {"description": "Too large"},
    422: {"description": "Invalid values"},
}


def customer_out(session: Session, customer: Customer) -> CustomerOut:
    objects = service.crm_objects_of(session, customer.id)
    return CustomerOut.model_validate(customer).model_copy(
        update={"crm_objects": [CrmObjectOut.model_validate(o) for o in objects]}
    )


def _validate(row: int, data: Any) -> tuple[int, dict[str, Any] | str]:
    if not isinstance(data, dict):
        return row, "A row must be an object."
    try:
        return row, CustomerIn.model_validate(data).model_dump(mode="json")
    except ValidationError as exc:
        return row, from_validation(exc, limit=3).message


def _import(
    principal: Principal,
    rows: list[tuple[int, dict[str, Any] | str]],
    on_duplicate: OnDuplicate,
    region: str,
) -> ImportResult:
    with session_scope() as session:
        results = service.add_customers(session, principal.company_id, rows, on_duplicate, region)
    counts = {s: 0 for s in ("created", "updated", "skipped", "error")}
    for r in results:
        counts[r.status] += 1
    return ImportResult(
        created=counts["created"],
        updated=counts["updated"],
        skipped=counts["skipped"],
        errors=counts["error"],
        results=[RowResultOut.model_validate(r) for r in results],
    )


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise PayloadTooLarge("Send at most 32 MB per request.")
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > MAX_BODY:
            raise PayloadTooLarge("Send at most 32 MB per request.")
    return bytes(buf)


@router.post(
    "/customers",
    status_code=201,
    response_model=RowResultOut,
    summary="Add a customer (duplicate detection by phone and email)",
    responses={
        200: {"description": "Merged into an existing customer (on_duplicate=update)"},
        409: {"description": "An exact duplicate exists (on_duplicate=skip)"},
        **ERRORS,
    },
)
def add_customer(
    body: CustomerIn,
    principal: CustomerWriter,
    on_duplicate: OnDuplicate = ON_DUPLICATE,
    region: str = REGION,
) -> JSONResponse:
    result = _import(principal, [(1, body.model_dump(mode="json"))], on_duplicate, region)
    row = result.results[0]
    if row.status == "error":
        raise ValidationFailed(row.error or "Invalid customer.")
    status = {"created": 201, "updated": 200, "skipped": 409}[row.status]
    return JSONResponse(row.model_dump(mode="json"), status_code=status)


@router.post(
    "/customers/bulk",
    response_model=ImportResult,
    summary="Add many customers (JSON array); per-row results",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "maxItems": MAX_BULK_ROWS,
                        "items": {"$ref": "#/components/schemas/CustomerIn"},
                    },
                    "example": [
                        {"name": "Crystal Minh", "phone": "(977) 625-2661"},
                        {
                            "name": "Crystal Minh",
                            "phone": "+1 977 625 2661",
                            "email": "CMinh730@email.com",
                        },
                    ],
                }
            },
        }
    },
    responses=ERRORS,
)
async def add_customers_bulk(
    request: Request,
    principal: CustomerWriter,
    on_duplicate: OnDuplicate = ON_DUPLICATE,
    region: str = REGION,
) -> JSONResponse:
    """Rows are checked one by one: bad rows are reported (`status: error`), the others
    are stored. Duplicates inside the array are found too."""
    raw = await _read_body(request)
    try:
        data = from_json(raw)
    except ValueError as exc:
        raise BadRequest("The body is not valid JSON.") from exc
    if not isinstance(data, list):
        raise ValidationFailed("Send a JSON array of customers.")
    if len(data) > MAX_BULK_ROWS:
        raise PayloadTooLarge(f"Send at most {MAX_BULK_ROWS} customers per request.")
    rows = [_validate(i, item) for i, item in enumerate(data, 1)]
    result = await run_in_threadpool(_import, principal, rows, on_duplicate, region)
    return JSONResponse(result.model_dump(mode="json"))


CSV_COLUMNS = {"name", "phone", "phones", "email", "emails", "company", "stage", "tags"}


def parse_csv(text: str, custom_keys: set[str]) -> list[tuple[int, dict[str, Any] | str]]:
    """Rows numbered from 1 (the header is not a row). Multi-value cells use `;`.
    Custom fields: a column named after the field's key, or `custom.<key>`."""
    reader = csv.DictReader(io.StringIO(text), restkey="__extra__")
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    if not headers:
        raise ValidationFailed("The CSV file has no header row.")
    unknown = [
        h
        for h in headers
        if h not in CSV_COLUMNS and h not in custom_keys and not h.startswith("custom.")
    ]
    if unknown:
        raise ValidationFailed(
            f"Unknown CSV columns: {', '.join(unknown)}. Use {', '.join(sorted(CSV_COLUMNS))}, "
            "or a custom field key."
        )
    reader.fieldnames = headers
    out: list[tuple[int, dict[str, Any] | str]] = []
    try:
        for n, record in enumerate(reader, 1):
            if record.get("__extra__"):
                out.append((n, f"The row has more cells than the header ({len(headers)})."))
                continue
            if any(v is None for k, v in record.items() if k != "__extra__"):
                out.append((n, f"The row has fewer cells than the header ({len(headers)})."))
                continue
            item: dict[str, Any] = {}
            custom: dict[str, Any] = {}
            for key, value in record.items():
                value = (value or "").strip()
                if not value:
                    continue
                if key in ("phone", "phones"):
                    item.setdefault("phones", []).extend(v for v in value.split(";") if v.strip())
                elif key in ("email", "emails"):
                    item.setdefault("emails", []).extend(v for v in value.split(";") if v.strip())
                elif key == "tags":
                    item["tags"] = [v for v in value.split(";") if v.strip()]
                elif key in ("name", "company", "stage"):
                    item[key] = value
                else:
                    custom[key.removeprefix("custom.")] = value
            if custom:
                item["custom_fields"] = custom
            out.append(_validate(n, item))
    except csv.Error as exc:
        raise ValidationFailed(f"The CSV file cannot be read: {exc}.") from exc
    return out


@router.post(
    "/customers/import",
    response_model=ImportResult,
    summary="Add customers from a CSV file; per-row results",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "name,phone,email,stage\nCrystal Minh,(977) 625-2661,"
                    "cminh730@email.com,lead\n",
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
    responses=ERRORS,
)
async def import_customers_csv(
    request: Request,
    principal: CustomerWriter,
    on_duplicate: OnDuplicate = ON_DUPLICATE,
    region: str = REGION,
) -> JSONResponse:
    """Columns: name, phone(s), email(s), company, stage, tags (multi-value cells
    separated by `;`) and custom field keys. A bad row is reported and skipped."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY:
            raise PayloadTooLarge("Send at most 32 MB per request.")
        try:
            form = await request.form(max_files=1, max_fields=10)
        except Exception as exc:
            raise BadRequest(f"The form cannot be read: {exc}.") from exc
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise BadRequest("Send the CSV in the 'file' field.")
        raw = await upload.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise PayloadTooLarge("Send at most 32 MB per request.")
    elif ctype in ("text/csv", "text/plain", "application/csv"):
        raw = await _read_body(request)
    else:
        raise UnsupportedMediaType("Send text/csv or multipart/form-data with a 'file'.")
    text = raw.decode("utf-8-sig", "replace")

    def run() -> ImportResult:
        with session_scope() as session:
            keys = {d.key for d in service.list_field_defs(session, principal.company_id)}
        rows = parse_csv(text, keys)
        if not rows:
            raise ValidationFailed("The CSV file has no rows.")
        if len(rows) > MAX_BULK_ROWS:
            raise PayloadTooLarge(f"Send at most {MAX_BULK_ROWS} rows per file.")
        return _import(principal, rows, on_duplicate, region)

    return JSONResponse((await run_in_threadpool(run)).model_dump(mode="json"))


@router.get("/customers", response_model=CustomerPage, responses=ERRORS)
def list_customers(
    principal: CurrentPrincipal,
    session: DbSession,
    q: str | None = Query(None, max_length=200),
    page: PageNumber = 1,
    page_size: PageSize = 25,
) -> CustomerPage:
    found = service.list_customers(session, principal.company_id, q, page, page_size)
    return CustomerPage(
        total=found.total,
        page=found.page,
        page_size=found.page_size,
        customers=[customer_out(session, c) for c in found.items],
    )


@router.get("/customers/stages", response_model=StagesOut, responses=ERRORS)
def get_stages(principal: CurrentPrincipal, session: DbSession) -> StagesOut:
    return StagesOut(stages=service.list_stages(session, principal.company_id))


@router.put(
    "/customers/stages",
    response_model=StagesOut,
    responses=ERRORS,
    summary="Set the pipeline of stages (in order)",
)
def put_stages(
    body: StagesIn,
    principal: CurrentPrincipal,
    session: DbSession,
) -> StagesOut:
    check(principal, Permission.CRM_CONFIGURE)
    stages = service.set_stages(session, principal.company_id, body.stages)
    return StagesOut(stages=stages)


def _defs_out(defs: list[Any]) -> FieldDefsOut:
    return FieldDefsOut(fields=[FieldDefOut.model_validate(d) for d in defs])


@router.get("/customers/fields", response_model=FieldDefsOut, responses=ERRORS)
def get_fields(principal: CurrentPrincipal, session: DbSession) -> FieldDefsOut:
    return _defs_out(service.list_field_defs(session, principal.company_id))


@router.put(
    "/customers/fields",
    response_model=FieldDefsOut,
    responses=ERRORS,
    summary="Define the typed custom fields (text, number, date, choice)",
)
def put_fields(
    body: FieldDefsIn,
    principal: CurrentPrincipal,
    session: DbSession,
) -> FieldDefsOut:
    check(principal, Permission.CRM_CONFIGURE)
    defs = service.set_field_defs(
        session, principal.company_id, [f.model_dump() for f in body.fields]
    )
    return _defs_out(defs)


@router.get("/customers/{customer_id}", response_model=CustomerOut, responses=ERRORS)
def get_customer(
    customer_id: str,
    principal: CurrentPrincipal,
    session: DbSession,
) -> CustomerOut:
    return customer_out(session, service.get_customer(session, principal.company_id, customer_id))


def _link_out(session: Session, link: Any) -> LinkOut:
    customer = session.get(Customer, link.customer_id) if link.customer_id else None
    return LinkOut.model_validate(link).model_copy(
        update={"customer_name": customer.name if customer else None}
    )


@router.get(
    "/calls/{call_id}/links",
    response_model=list[LinkOut],
    responses=ERRORS,
    summary="A call's customer links: definite, suggested, confirmed",
)
def list_call_links(
    call_id: str,
    principal: CurrentPrincipal,
    session: DbSession,
) -> list[LinkOut]:
    call = calls.get_call(session, principal, call_id)
    return [_link_out(session, link) for link in service.engagement_links(session, call.id)]


@router.post(
    "/calls/{call_id}/links/{link_id}/confirm",
    response_model=LinkOut,
    responses=ERRORS,
    summary="Confirm a suggested link: the call belongs to that customer",
)
def confirm_call_link(
    call_id: str,
    link_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
) -> LinkOut:
    call = calls.get_call(session, principal, call_id)
    link = service.confirm_link(session, principal.company_id, call.id, link_id)
    return _link_out(session, link)
