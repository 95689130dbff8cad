"""Writing a spreadsheet is blocking CPU work: the XLSX export is written in a
worker thread, not on the event loop that serves every other request."""

import io
import threading

from openpyxl import load_workbook
from sqlalchemy import select

from market.settlement import exports, service
from market.settlement.models import Statement
from market.settlement.service import StatementExport
from tests.factories import login
from tests.market.settlement.conftest import PREVIOUS, insert_month


async def test_the_xlsx_export_is_written_off_the_event_loop(
    client, session, contract, monkeypatch
):
    await insert_month(session, contract, PREVIOUS, on_time=20)
    await service.run_month(session, actor=contract.admin, month_on=PREVIOUS)
    await session.commit()
    statement_id = (await session.execute(select(Statement.id))).scalar_one()

    threads: list[int] = []
    real = exports.statement_xlsx

    def observed(export: StatementExport) -> bytes:  # the real writer, observed
        threads.append(threading.get_ident())
        return real(export)

    monkeypatch.setattr(exports, "statement_xlsx", observed)
    await login(client, contract.world.user("auditor").email)
    response = await client.get(f"/settlement/statements/{statement_id}/export.xlsx")
    assert response.status_code == 200
    assert load_workbook(io.BytesIO(response.content), read_only=True)["lines"] is not None
    assert threads and threading.get_ident() not in threads
