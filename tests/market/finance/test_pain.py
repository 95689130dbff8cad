"""The bank's format is a setting per municipality: pain.001.001.03 (the
default) or pain.001.001.09, each valid by its ISO 20022 schema."""

from pathlib import Path

import pytest
import sepaxml
import xmlschema
from sqlalchemy import update

from market.municipalities.models import Municipality
from market.payouts import service
from tests.market.payouts.conftest import books  # noqa: F401 (fixture)

SCHEMAS = Path(sepaxml.__file__).parent / "schemas"


@pytest.mark.parametrize("version", ["pain.001.001.03", "pain.001.001.09"])
async def test_the_payment_file_is_in_the_municipalitys_version_and_valid(
    session,
    books,  # noqa: F811
    version,
):
    await session.execute(
        update(Municipality)
        .where(Municipality.id == books.world.municipality.id)
        .values(pain001_version=version)
    )
    statement = await books.statement(session, total_ore=101_798_12)
    await service.create_payouts(session, actor=books.admin, statement_ids=[statement.id])
    made = await service.create_payment_file(session, actor=books.admin)
    assert f'xmlns="urn:iso:std:iso:20022:tech:xsd:{version}"' in made.content
    assert "<CtrlSum>101798.12</CtrlSum>" in made.content
    schema = xmlschema.XMLSchema(SCHEMAS / f"{version}.xsd")
    assert schema.is_valid(made.content)
    other = "pain.001.001.09" if version.endswith("03") else "pain.001.001.03"
    assert not xmlschema.XMLSchema(SCHEMAS / f"{other}.xsd").is_valid(made.content)
    broken = made.content.replace("<NbOfTxs>1</NbOfTxs>", "<NbOfTxs>x</NbOfTxs>")
    assert not schema.is_valid(broken)
