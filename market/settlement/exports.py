"""Statements as files for auditors: CSV (semicolon-separated, as Danish
spreadsheets expect; amounts in øre so nothing is lost to formatting) and XLSX
with a lines sheet, an orders sheet and the audit head."""

import csv
import io
from datetime import datetime

from market.clock import COPENHAGEN
from market.i18n import gettext
from market.settlement.service import OUTCOME_LABELS, MonthView, StatementExport, StatementView

LINE_HEADER = (
    "position",
    "kind",
    "quantity",
    "unit_amount_ore",
    "rate_bp",
    "amount_ore",
    "orders",
    "explanation",
)
ORDER_HEADER = (
    "line_position",
    "order_id",
    "citizen",
    "delivery_on",
    "outcome",
    "delivered_at",
    "units",
)


def _local(instant: datetime | None) -> str:
    return "" if instant is None else instant.astimezone(COPENHAGEN).isoformat(timespec="seconds")


def _facts(view: StatementView) -> list[tuple[str, object]]:
    s = view.statement
    return [
        ("statement_id", s.id),
        ("provider", view.provider_name),
        ("month", s.month_on.strftime("%Y-%m")),
        ("status", s.status.value),
        ("terms_version", view.terms.version),
        ("total_ore", s.total_ore),
        ("delivered", s.delivered),
        ("delivered_on_time", s.delivered_on_time),
        ("provider_fault_failures", s.provider_fault_failures),
        ("citizen_absent", s.citizen_absent),
        ("late_cancelled", s.late_cancelled),
        ("unfinished_orders", s.unfinished_orders),
        ("prepared_by", view.prepared_by),
        ("approved_by", view.approved_by or ""),
        ("approved_at", _local(s.approved_at)),
        ("audit_chain_seq", "" if s.audit_chain_seq is None else s.audit_chain_seq),
        ("audit_chain_hash", s.audit_chain_hash or ""),
    ]


def _line_rows(view: StatementView) -> list[list[object]]:
    return [
        [
            lv.line.position,
            lv.line.kind,
            lv.line.quantity,
            "" if lv.line.unit_amount_ore is None else str(lv.line.unit_amount_ore),
            "" if lv.line.rate_bp is None else lv.line.rate_bp,
            lv.line.amount_ore,
            lv.orders,
            lv.text,
        ]
        for lv in view.lines
    ]


def _order_rows(export: StatementExport) -> list[list[object]]:
    return [
        [
            position,
            row.order_id,
            row.citizen,
            row.delivery_on.isoformat(),
            gettext(OUTCOME_LABELS[row.outcome]),
            _local(row.delivered_at),
            row.units,
        ]
        for position, row in export.orders
    ]


def statement_csv(export: StatementExport) -> str:
    """Three blocks: the statement's facts (with the audit head), its lines, its orders."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for key, value in _facts(export.view):
        writer.writerow([key, value])
    writer.writerow([])
    writer.writerow(LINE_HEADER)
    writer.writerows(_line_rows(export.view))
    writer.writerow(["total", "", "", "", "", export.view.statement.total_ore, "", ""])
    writer.writerow([])
    writer.writerow(ORDER_HEADER)
    writer.writerows(_order_rows(export))
    return out.getvalue()


def statement_xlsx(export: StatementExport) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    lines = book.active
    assert lines is not None
    lines.title = "lines"
    lines.append(list(LINE_HEADER))
    for row in _line_rows(export.view):
        lines.append(row)
    lines.append(["total", None, None, None, None, export.view.statement.total_ore, None, None])
    orders = book.create_sheet("orders")
    orders.append(list(ORDER_HEADER))
    for row in _order_rows(export):
        orders.append(row)
    facts = book.create_sheet("statement")
    facts.append(["key", "value"])
    for key, value in _facts(export.view):
        facts.append([key, value])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def month_csv(view: MonthView) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        (
            "statement_id",
            "provider",
            "approval_id",
            "month",
            "status",
            "delivered",
            "delivered_on_time",
            "provider_fault_failures",
            "citizen_absent",
            "late_cancelled",
            "unfinished_orders",
            "total_ore",
            "audit_chain_seq",
            "audit_chain_hash",
        )
    )
    for row in view.statements:
        s = row.statement
        writer.writerow(
            (
                s.id,
                row.provider_name,
                s.approval_id,
                s.month_on.strftime("%Y-%m"),
                s.status.value,
                s.delivered,
                s.delivered_on_time,
                s.provider_fault_failures,
                s.citizen_absent,
                s.late_cancelled,
                s.unfinished_orders,
                s.total_ore,
                "" if s.audit_chain_seq is None else s.audit_chain_seq,
                s.audit_chain_hash or "",
            )
        )
    return out.getvalue()
