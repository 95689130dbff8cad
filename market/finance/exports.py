"""A statement as files for the municipality's accountant and systems.

- Danish CSV: what Danish Excel opens as it is — UTF-8 with a byte-order
  mark (or æøå break), semicolons, decimal comma, amounts in kroner, dates
  as dd-mm-åååå, Danish headers.
- Machine CSV: UTF-8 without BOM, commas, ISO 8601 dates, amounts in øre
  (exact integers; unit amounts as exact decimal øre), stable English
  column names that never change meaning (docs/finance.md lists them).
  One row per statement line, every row carrying the statement's keys, so a
  system can load it without parsing blocks.

Both carry the statement's audit-chain head."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal

from market.clock import COPENHAGEN, last_of_month
from market.i18n import translations
from market.settlement.explain import percent
from market.settlement.service import OUTCOME_LABELS, StatementExport

BOM = "\ufeff"

MACHINE_COLUMNS = (
    "statement_id",
    "provider_id",
    "provider_name",
    "month",
    "period_start",
    "period_end",
    "status",
    "terms_version",
    "approved_at",
    "audit_chain_seq",
    "audit_chain_hash",
    "line_position",
    "line_kind",
    "quantity",
    "unit_amount_ore",
    "rate_bp",
    "amount_ore",
    "orders",
    "explanation",
)

DANISH_LINE_HEADER = (
    "Linje",
    "Art",
    "Antal",
    "Enhedsbeløb (kr.)",
    "Sats (%)",
    "Beløb (kr.)",
    "Ordrer",
    "Forklaring",
)
DANISH_ORDER_HEADER = (
    "Linje",
    "Ordre",
    "Borger",
    "Leveringsdato",
    "Udfald",
    "Leveret",
    "Enheder",
)


def danish_number(value: Decimal, places: int = 2) -> str:
    """12345.6 → "12345,60": no thousands separator, so Excel reads a number."""
    text = f"{value:.{places}f}"
    return text.replace(".", ",")


def danish_kroner(ore: int | Decimal) -> str:
    return danish_number(Decimal(ore) / 100)


def danish_unit_kroner(ore: Decimal) -> str:
    """A unit amount with every decimal it has (at least two)."""
    value = (Decimal(ore) / 100).normalize()
    places = max(2, -int(value.as_tuple().exponent))
    return danish_number(value, places)


def danish_date(day: date) -> str:
    return day.strftime("%d-%m-%Y")


def _local(instant: datetime | None) -> datetime | None:
    return None if instant is None else instant.astimezone(COPENHAGEN)


def danish_csv(export: StatementExport) -> bytes:
    """Facts, lines (with a total row) and orders, as Danish Excel expects."""
    view = export.view
    s = view.statement
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    approved = _local(s.approved_at)
    for key, value in (
        ("Opgørelse", s.id),
        ("Leverandør", view.provider_name),
        ("Måned", s.month_on.strftime("%m-%Y")),
        ("Periode", f"{danish_date(s.month_on)} – {danish_date(last_of_month(s.month_on))}"),
        ("Status", "godkendt" if view.approved else "kladde"),
        ("Kontraktvilkår, version", view.terms.version),
        ("I alt (kr.)", danish_kroner(s.total_ore)),
        ("Udarbejdet af", view.prepared_by),
        ("Godkendt af", view.approved_by or ""),
        ("Godkendt", "" if approved is None else approved.strftime("%d-%m-%Y %H:%M")),
        ("Revisionskæde, nr.", "" if s.audit_chain_seq is None else s.audit_chain_seq),
        ("Revisionskæde, hash", s.audit_chain_hash or ""),
    ):
        writer.writerow([key, value])
    writer.writerow([])
    writer.writerow(DANISH_LINE_HEADER)
    for lv in view.lines:
        line = lv.line
        writer.writerow(
            [
                line.position,
                line.kind,
                line.quantity,
                "" if line.unit_amount_ore is None else danish_unit_kroner(line.unit_amount_ore),
                "" if line.rate_bp is None else percent(line.rate_bp, "da").removesuffix(" %"),
                danish_kroner(line.amount_ore),
                lv.orders,
                lv.text_in("da"),
            ]
        )
    writer.writerow(["I alt", "", "", "", "", danish_kroner(s.total_ore), "", ""])
    writer.writerow([])
    writer.writerow(DANISH_ORDER_HEADER)
    da = translations("da")
    for position, row in export.orders:
        delivered = _local(row.delivered_at)
        writer.writerow(
            [
                position,
                row.order_id,
                row.citizen,
                danish_date(row.delivery_on),
                da.gettext(OUTCOME_LABELS[row.outcome]),
                "" if delivered is None else delivered.strftime("%d-%m-%Y %H:%M"),
                row.units,
            ]
        )
    return (BOM + out.getvalue()).encode("utf-8")


def machine_csv(export: StatementExport) -> bytes:
    """One row per line; UTF-8, commas, ISO dates, øre."""
    view = export.view
    s = view.statement
    out = io.StringIO()
    writer = csv.writer(out, delimiter=",", lineterminator="\r\n")
    writer.writerow(MACHINE_COLUMNS)
    for lv in view.lines:
        line = lv.line
        writer.writerow(
            [
                s.id,
                s.provider_id,
                view.provider_name,
                s.month_on.strftime("%Y-%m"),
                s.month_on.isoformat(),
                last_of_month(s.month_on).isoformat(),
                s.status.value,
                view.terms.version,
                "" if s.approved_at is None else s.approved_at.isoformat(timespec="seconds"),
                "" if s.audit_chain_seq is None else s.audit_chain_seq,
                s.audit_chain_hash or "",
                line.position,
                line.kind,
                line.quantity,
                "" if line.unit_amount_ore is None else str(line.unit_amount_ore),
                "" if line.rate_bp is None else line.rate_bp,
                line.amount_ore,
                lv.orders,
                lv.text_in("en"),
            ]
        )
    return out.getvalue().encode("utf-8")
