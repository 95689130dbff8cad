"""Statements as files for auditors: CSV (semicolon-separated, as Danish
spreadsheets expect; amounts in øre so nothing is lost to formatting) and XLSX
with a lines sheet, an orders sheet and the audit head (typed: kroner as
numbers, dates as dates). The Danish and the machine CSV are in
market.finance.exports."""

import csv
import io
from datetime import datetime
from decimal import Decimal

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
XLSX_LINE_HEADER = (
    "position",
    "kind",
    "quantity",
    "unit_amount_kr",
    "rate_percent",
    "amount_kr",
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


KRONER_FORMAT = "#,##0.00"
UNIT_KRONER_FORMAT = "#,##0.00##"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


def _kroner(ore: int | Decimal) -> Decimal:
    return Decimal(ore) / 100


def _naive_local(instant: datetime | None) -> datetime | None:
    # Spreadsheets have no time zones: the Copenhagen wall clock time.
    return None if instant is None else instant.astimezone(COPENHAGEN).replace(tzinfo=None)


def statement_xlsx(export: StatementExport) -> bytes:
    """Numbers are numbers and dates are dates: amounts in kroner with the
    format #,##0.00, dates with a date format, so sums and filters work.
    Blocking (openpyxl): call it off the event loop."""
    from openpyxl import Workbook

    view = export.view
    book = Workbook()
    lines = book.active
    assert lines is not None
    lines.title = "lines"
    lines.append(list(XLSX_LINE_HEADER))
    for lv in view.lines:
        line = lv.line
        lines.append(
            [
                line.position,
                line.kind,
                line.quantity,
                None if line.unit_amount_ore is None else _kroner(line.unit_amount_ore),
                None if line.rate_bp is None else Decimal(line.rate_bp) / 100,
                _kroner(line.amount_ore),
                lv.orders,
                lv.text,
            ]
        )
        row = lines.max_row
        lines.cell(row, 4).number_format = UNIT_KRONER_FORMAT
        lines.cell(row, 5).number_format = "0.00"
        lines.cell(row, 6).number_format = KRONER_FORMAT
    lines.append(["total", None, None, None, None, _kroner(view.statement.total_ore), None, None])
    lines.cell(lines.max_row, 6).number_format = KRONER_FORMAT
    orders = book.create_sheet("orders")
    orders.append(list(ORDER_HEADER))
    for position, order in export.orders:
        orders.append(
            [
                position,
                order.order_id,
                order.citizen,
                order.delivery_on,
                gettext(OUTCOME_LABELS[order.outcome]),
                _naive_local(order.delivered_at),
                order.units,
            ]
        )
        row = orders.max_row
        orders.cell(row, 4).number_format = DATE_FORMAT
        orders.cell(row, 6).number_format = DATETIME_FORMAT
    facts = book.create_sheet("statement")
    facts.append(["key", "value"])
    for key, value in _facts(view):
        if key == "total_ore":
            facts.append(["total_kr", _kroner(view.statement.total_ore)])
            facts.cell(facts.max_row, 2).number_format = KRONER_FORMAT
        elif key == "approved_at":
            facts.append([key, _naive_local(view.statement.approved_at)])
            facts.cell(facts.max_row, 2).number_format = DATETIME_FORMAT
        elif key == "month":
            facts.append([key, view.statement.month_on])
            facts.cell(facts.max_row, 2).number_format = "yyyy-mm"
        else:
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
