"""Drives a live server with the Python client generated from the spec (scripts/contract-check.sh):
every operation, with valid and invalid input, as the roles that may and may not call it. Each
answer must have a status the spec declares for the operation and parse into the declared type,
with no field the spec does not declare; exports are checked by their media type and bytes.
"""

import datetime
import enum
import gzip
import importlib
import io
import json
import keyword
import os
import pkgutil
import sys
import types
import typing

import niemyet_client.api
from niemyet_client import AuthenticatedClient, Client
from niemyet_client.types import File, Unset

SPEC = json.load(open(sys.argv[1], encoding="utf-8"))
URL = os.environ["CONTRACT_URL"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OPERATIONS = {
    op["operationId"]: (method, path, op)
    for path, item in SPEC["paths"].items()
    for method, op in item.items()
}
MODULES = {}
for package in pkgutil.iter_modules(niemyet_client.api.__path__):
    sub = importlib.import_module(f"niemyet_client.api.{package.name}")
    for module in pkgutil.iter_modules(sub.__path__):
        MODULES[module.name] = f"niemyet_client.api.{package.name}.{module.name}"
PROBLEM_TYPES = set(SPEC["components"]["schemas"]["ProblemTypeUri"]["enum"])

clients = {"anon": Client(base_url=URL, raise_on_unexpected_status=True, timeout=60)}
for role in ["admin", "editor", "auditor", "officer"]:
    clients[role] = AuthenticatedClient(
        base_url=URL, token=os.environ[f"CONTRACT_{role.upper()}"],
        raise_on_unexpected_status=True, timeout=60,
    )

called = set()
checked = 0


def candidates(hint):
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            yield from candidates(arg)
    elif isinstance(hint, type):
        yield hint


def convert(value, hint):
    """A plain value as the generated client's parameter type wants it."""
    for cls in candidates(hint):
        if cls in (Unset, type(None)):
            continue
        if issubclass(cls, enum.Enum) and isinstance(value, str):
            return cls(value)
        if hasattr(cls, "from_dict") and isinstance(value, dict):
            return cls.from_dict(value)
        if cls is File and isinstance(value, bytes):
            return File(payload=io.BytesIO(value))
        if cls is datetime.date and isinstance(value, str):
            return datetime.date.fromisoformat(value)
        if cls is datetime.datetime and isinstance(value, str):
            return datetime.datetime.fromisoformat(value)
    return value


def undeclared(value, where):
    """Fields the server sent that the parsed model does not declare."""
    found = []
    if isinstance(value, list):
        for i, v in enumerate(value):
            found += undeclared(v, f"{where}[{i}]")
    elif hasattr(value, "__attrs_attrs__"):
        fields = [a.name for a in getattr(value, "__attrs_attrs__", [])]
        extra = getattr(value, "additional_properties", {}) or {}
        if extra and fields != ["additional_properties"]:
            found.append(f"{where}: {sorted(extra)}")
        for name in fields:
            if name != "additional_properties":
                found += undeclared(getattr(value, name), f"{where}.{name}")
    return found


def call(op_id, role, expect, **kwargs):
    """Calls an operation through the generated client; returns the parsed answer."""
    global checked
    method, path, op = OPERATIONS[op_id]
    module = importlib.import_module(MODULES[op_id])
    hints = typing.get_type_hints(module.sync_detailed)
    args = {}
    for name, value in kwargs.items():
        name = name.replace("-", "_").lower()
        if name not in hints and (keyword.iskeyword(name) or f"{name}_" in hints):
            name = f"{name}_"
        if name not in hints:
            raise SystemExit(f"{op_id}: the generated client has no parameter {name}: {sorted(hints)}")
        args[name] = convert(value, hints[name])
    try:
        response = module.sync_detailed(client=clients[role], **args)
    except Exception as e:  # noqa: BLE001 - any failure to parse is the finding
        raise SystemExit(f"{op_id} as {role} {kwargs}: the client failed: {type(e).__name__}: {e}")
    status = int(response.status_code)
    body = response.content[:300]
    if status not in expect:
        raise SystemExit(f"{op_id} as {role} {kwargs}: {status}, expected {sorted(expect)}: {body!r}")
    declared = op["responses"]
    if str(status) not in declared:
        raise SystemExit(f"{op_id}: {status} is not declared ({sorted(declared)})")
    if declared[str(status)].get("content"):
        if response.parsed is None:
            raise SystemExit(f"{op_id} {status}: no parsed answer: {body!r}")
        extra = undeclared(response.parsed, op_id)
        if extra:
            raise SystemExit(f"{op_id} {status}: undeclared fields: {extra}")
        if status >= 400:
            kind = getattr(response.parsed, "type_", None) or getattr(response.parsed, "type", None)
            kind = getattr(kind, "value", kind)
            if kind not in PROBLEM_TYPES:
                raise SystemExit(f"{op_id} {status}: problem type {kind!r} is not in the enum")
    called.add(op_id)
    checked += 1
    return response


def export(op_id, path, role, query=None):
    """The CSV, XLSX and HTML forms of an export, by `?format=` and by `Accept`."""
    global checked
    _, _, op = OPERATIONS[op_id]
    content = op["responses"]["200"]["content"]
    assert "text/csv" in content and XLSX in content and "text/html" in content, op_id
    assert content[XLSX]["schema"].get("format") == "binary", op_id
    http = clients[role].get_httpx_client()
    for fmt, accept, media, magic in [
        ("csv", "text/csv", "text/csv", b"\xef\xbb\xbf"),
        ("xlsx", XLSX, XLSX, b"PK"),
        ("html", "text/html", "text/html", b"<!DOCTYPE html>"),
    ]:
        for params, headers in [({"format": fmt}, {}), ({}, {"Accept": accept})]:
            r = http.get(path, params={**(query or {}), **params}, headers=headers)
            if r.status_code != 200 or not r.headers["content-type"].startswith(media) or not r.content.startswith(magic):
                raise SystemExit(f"{op_id} {fmt}: {r.status_code} {r.headers.get('content-type')} {r.content[:40]!r}")
            checked += 1


def etag(op_id, role, **kwargs):
    return call(op_id, role, {200}, **kwargs).headers.get("etag", "*")


OK, CREATED = {200}, {201}
# Operations, catalogue first.
call("health", "anon", OK)
call("ready", "anon", OK)
call("metrics", "admin", OK)
call("metrics", "anon", {401})
call("metrics", "editor", {403})
for slug in ["validation", "precondition-failed", "internal"]:
    call("get_problem_type", "anon", OK, slug=slug)
units = call("list_units", "anon", OK, level="province", limit=5).parsed
call("list_units", "anon", {422}, limit=0)
call("get_unit", "anon", OK, code="52")
call("get_unit", "anon", {200}, code="23764")
call("get_unit", "anon", {404, 422}, code="99999")
call("get_unit", "anon", OK, code="10480", as_of="2025-06-30")
call("list_units", "anon", OK, as_of="2025-06-30", q="dai hung", limit=5)
call("get_unit_lineage", "anon", OK, code="10441")
call("get_unit_lineage", "anon", OK, code="10480", as_of="2025-06-30")
call("get_unit_lineage", "anon", {404, 422}, code="99999")
sectors = call("list_sectors", "anon", OK, limit=5).parsed
sector = sectors.items[0].code
call("list_sectors", "anon", {422}, limit=501)
call("get_sector", "anon", OK, code=sector)
call("get_sector", "anon", {404, 422}, code="no-such-sector")
call("create_sector", "editor", CREATED, body={"name": "Lĩnh vực kiểm thử hợp đồng"})
call("create_sector", "editor", {409}, body={"name": "Lĩnh vực kiểm thử hợp đồng"})
call("create_sector", "officer", {403}, body={"name": "Khác"})
call("create_sector", "editor", {422}, body={"name": ""})
call("get_sector_place", "anon", OK, code=sector)
call("get_sector_place", "anon", {404}, code="no-such-sector")
place = etag("get_sector_place", "anon", code=sector)
call("put_sector_place", "admin", OK, code=sector, if_match=place,
     body={"place": "commune_centre", "reason": "Kiểm thử hợp đồng"})
call("put_sector_place", "admin", {412}, code=sector, if_match=place,
     body={"place": "commune_centre", "reason": "Kiểm thử hợp đồng"})
call("put_sector_place", "editor", {403}, code=sector,
     body={"place": "commune_centre", "reason": "x"})
procedures = call("list_procedures", "anon", OK, level="commune", q="khai sinh", limit=5).parsed
procedure = procedures.items[0].code
call("list_procedures", "anon", OK, status="all", limit=2)
call("list_procedures", "anon", {422}, limit=0)
call("get_procedure", "anon", OK, code=procedure)
call("get_procedure", "anon", {404, 422}, code="9.999999")
decisions = call("list_decisions", "anon", OK, kind="announcement", limit=5).parsed
decision = decisions.items[0]
call("list_decisions", "anon", {422}, limit=0)
call("get_decision", "anon", OK, id=decision.id)
call("get_decision", "anon", {404}, id="00000000-0000-0000-0000-000000000000")
call("get_decision_impact", "admin", OK, id=decision.id)
call("get_decision_impact", "anon", {401}, id=decision.id)
export("get_decision_impact", f"/api/v1/decisions/{decision.id}/impact", "admin")
new_decision = {
    "number": "77/QĐ-HĐKT", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-01-05",
    "items": [{"action": "amended", "procedure_code": procedure, "effective_on": "2027-01-01",
               "procedure": {"name": "Thủ tục kiểm thử hợp đồng"}}],
}
call("create_decision", "editor", CREATED, body=new_decision, if_match="*")
call("create_decision", "editor", {409}, body=new_decision)
call("create_decision", "editor", {422}, body={**new_decision, "number": "78/QĐ-HĐKT", "items": []})
call("create_decision", "auditor", {403}, body=new_decision)
call("get_changes", "anon", OK, since="2025-01-01", level="commune")
call("get_changes", "anon", {422, 400}, since="2025-01-01", province="zz")
export("get_changes", "/api/v1/catalogue/changes", "anon", {"since": "2025-01-01"})
record = gzip.decompress(open("data/dvcqg-catalogue-2026-06.jsonl.gz", "rb").read()).split(b"\n")[0] + b"\n"
call("import_catalogue", "editor", OK, body=record, dry_run=True)
call("import_catalogue", "editor", {400, 422}, body=b"{not json\n", dry_run=True)
call("import_catalogue", "officer", {403}, body=record, dry_run=True)

# Postings and reports.
commune = "23764"
postings = call("list_postings", "officer", OK, code=commune)
inventory = postings.headers.get("etag", "*")
lines = [{"procedure_code": p.procedure_code, "channel": p.channel.value, "decision": p.decision,
          "posted_on": p.posted_on.isoformat()} for p in postings.parsed.items]
call("put_postings", "officer", OK, code=commune, if_match=inventory, body={"postings": lines})
call("put_postings", "officer", {412}, code=commune, if_match='"stale"', body={"postings": lines})
call("put_postings", "officer", {403}, code="30130", body={"postings": []})
call("put_postings", "officer", {422}, code=commune,
     body={"postings": [{**lines[0], "decision": ""}]})
call("put_posting", "officer", {200, 201}, code=commune, procedure_code=procedure, channel="portal",
     body={"decision": decision.number, "posted_on": "2025-08-01"})
call("put_posting", "officer", {422}, code=commune, procedure_code=procedure, channel="portal",
     body={"decision": "", "posted_on": "2025-08-01"})
call("delete_posting", "officer", {204}, code=commune, procedure_code=procedure, channel="portal")
call("delete_posting", "officer", {404}, code=commune, procedure_code=procedure, channel="portal")
call("get_commune_report", "officer", OK, code=commune)
call("get_commune_report", "officer", {403}, code="30130")
export("get_commune_report", f"/api/v1/communes/{commune}/report", "officer")
call("get_commune_posting_list", "officer", OK, code=commune)
export("get_commune_posting_list", f"/api/v1/communes/{commune}/posting-list", "officer")
sheet = call("get_commune_posting_sheet", "officer", OK, code=commune, lang="en")
assert isinstance(sheet.parsed, str) and "<html" in sheet.parsed
call("get_commune_posting_sheet", "anon", {401}, code=commune)
call("get_province_report", "auditor", OK, code="52")
call("get_province_report", "auditor", {403}, code="82")
export("get_province_report", "/api/v1/provinces/52/report", "auditor")
call("get_national_report", "admin", OK)
call("get_national_report", "officer", {403})
export("get_national_report", "/api/v1/reports/national", "admin")
call("get_province_posting_list", "anon", OK, code="52")
call("get_province_posting_list", "anon", {404}, code="98")
export("get_province_posting_list", "/api/v1/provinces/52/posting-list", "anon")

# Settings.
holidays = call("get_holidays", "anon", OK)
days = [{"day": h.day.isoformat(), "name": h.name} for h in holidays.parsed.holidays]
call("put_holidays", "admin", OK, body={"holidays": days}, if_match=holidays.headers.get("etag", "*"))
call("put_holidays", "admin", {422}, body={"holidays": [{"day": "2026-01-01", "name": ""}]})
call("put_holidays", "editor", {403}, body={"holidays": days})
settings = call("get_province_settings", "anon", OK, code="52")
call("put_province_settings", "admin", OK, code="52", if_match=settings.headers.get("etag", "*"),
     body=settings.parsed.to_dict())
call("put_province_settings", "admin", {422}, code="52",
     body={"deadline_working_days": -1, "required_channels": []})
call("get_province_settings", "anon", {404}, code="98")
places = call("get_posting_places", "anon", OK, code="52")
call("put_posting_places", "admin", OK, code="52", if_match=places.headers.get("etag", "*"),
     body=places.parsed.to_dict())
call("put_posting_places", "officer", {403}, code="52", body=places.parsed.to_dict())
call("list_exemptions", "admin", OK, code=commune)
exemption = call("create_exemption", "admin", CREATED, code=commune, body={
    "procedure_code": procedure, "reason": "Kiểm thử hợp đồng", "valid_from": "2025-01-01"}).parsed
call("create_exemption", "admin", {422}, code=commune,
     body={"procedure_code": procedure, "reason": "", "valid_from": "2025-01-01"})
call("get_exemption", "admin", OK, code=commune, id=exemption.id)
call("delete_exemption", "admin", {204}, code=commune, id=exemption.id)
call("get_exemption", "admin", {404}, code=commune, id=exemption.id)
call("delete_exemption", "admin", {404}, code=commune, id=exemption.id)

# Inspections, audit, webhooks.
inspection = call("create_inspection", "auditor", CREATED, body={
    "unit": commune, "inspected_on": datetime.date.today().isoformat(), "team": ["Nguyễn Văn A"]}).parsed
call("create_inspection", "auditor", {403}, body={
    "unit": "30130", "inspected_on": "2025-09-01", "team": ["Nguyễn Văn A"]})
call("create_inspection", "auditor", {422}, body={"unit": commune, "inspected_on": "2025-09-01", "team": []})
call("list_inspections", "auditor", OK, province="52")
call("list_inspections", "auditor", {422}, limit=0)
call("get_inspection", "auditor", OK, id=inspection.id)
call("get_inspection", "auditor", {404}, id="00000000-0000-0000-0000-000000000000")
export("get_inspection", f"/api/v1/inspections/{inspection.id}", "auditor")
call("get_follow_up", "auditor", OK, id=inspection.id)
export("get_follow_up", f"/api/v1/inspections/{inspection.id}/follow-up", "auditor")
# From the archive: Xã Ia Tô (23779) of Gia Lai, merged into Xã Ia Krái (23776) in 2025.
archived = call("create_inspection", "auditor", CREATED, body={
    "unit": "23779", "inspected_on": "2022-08-15", "team": ["Nguyễn Văn A"],
    "findings": ["Chưa niêm yết thủ tục Đăng ký kết hôn"]}).parsed
call("create_inspection", "auditor", {422}, body={
    "unit": "23779", "inspected_on": "2025-08-15", "team": ["Nguyễn Văn A"], "findings": ["x"]})
call("list_inspections", "auditor", OK, unit="23776", include_predecessors=True)
call("get_inspection", "auditor", OK, id=archived.id)
export("get_inspection", f"/api/v1/inspections/{archived.id}", "auditor")
call("get_follow_up", "auditor", {409}, id=archived.id)
call("list_audit", "admin", OK, entity="postings", limit=5)
call("list_audit", "admin", OK, entity="webhook", limit=5)
call("list_audit", "editor", {403})
call("list_audit", "admin", {422}, limit=0)
hook = call("create_webhook", "admin", CREATED, body={
    "url": "http://127.0.0.1:9/hook", "events": ["decision.recorded"]}).parsed
call("create_webhook", "admin", {422}, body={"url": "not a url", "events": ["decision.recorded"]})
call("list_webhooks", "admin", OK)
tag = call("get_webhook", "admin", OK, id=hook.id).headers.get("etag", "*")
call("update_webhook", "admin", OK, id=hook.id, if_match=tag, body={"description": "Kiểm thử"})
call("update_webhook", "admin", {412}, id=hook.id, if_match=tag, body={"description": "Kiểm thử"})
tag = call("get_webhook", "admin", OK, id=hook.id).headers.get("etag", "*")
call("rotate_webhook_secret", "admin", OK, id=hook.id, if_match=tag)
call("list_webhook_deliveries", "admin", OK, id=hook.id)
call("replay_webhook_delivery", "admin", {404}, id=hook.id, delivery_id="00000000-0000-0000-0000-000000000000")
call("delete_webhook", "admin", {204}, id=hook.id)
call("get_webhook", "admin", {404}, id=hook.id)
call("get_webhook", "officer", {403}, id=hook.id)

# A failure the client must read too: with the database locked by another process, a write
# waits out its busy timeout and fails; the problem (with its `error_id` for a 500) parses.
import sqlite3  # noqa: E402 - only this check needs it

lock = sqlite3.connect(os.environ["CONTRACT_DB"], isolation_level=None)
lock.execute("BEGIN EXCLUSIVE")
try:
    failed = call("put_holidays", "admin", {500, 503}, body={"holidays": days})
finally:
    lock.execute("ROLLBACK")
    lock.close()
if int(failed.status_code) == 500 and not failed.parsed.error_id:
    raise SystemExit("a 500 without its error_id")
if int(failed.status_code) == 503 and "retry-after" not in failed.headers:
    raise SystemExit("a 503 without Retry-After")

missing = sorted(set(OPERATIONS) - called)
if missing:
    raise SystemExit(f"operations not called: {missing}")
print(f"contract check: {len(called)} operations, {checked} calls, every answer parsed "
      f"(a locked database: {int(failed.status_code)})")
