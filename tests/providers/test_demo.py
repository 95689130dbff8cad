from sqlalchemy import select

from market.audit import service as audit
from market.auth.models import Role
from market.demo import AARHUS_POSTAL_CODES, ODENSE_POSTAL_CODES
from providers import demo, service
from providers.models import Application, ApplicationStatus, Approval, QualityStandard
from providers.service import check_cvr
from tests.factories import make_municipality, make_user


async def test_demo_seeds_providers_in_every_state(session, settings):
    aarhus = await make_municipality(session, "0751", "Aarhus Kommune", AARHUS_POSTAL_CODES)
    odense = await make_municipality(session, "0461", "Odense Kommune", ODENSE_POSTAL_CODES)
    users = {
        "admin@aarhus.example": await make_user(
            session, "admin@aarhus.example", Role.MUNICIPAL_ADMIN, municipality_id=aarhus.id
        ),
        "admin@odense.example": await make_user(
            session, "admin@odense.example", Role.MUNICIPAL_ADMIN, municipality_id=odense.id
        ),
    }
    logins = await demo.seed(
        session,
        municipalities=[aarhus, odense],
        users=users,
        password="demo-password-2026",
        settings=settings,
    )
    assert len(logins) == 8
    for p in demo.PROVIDERS.values():
        assert check_cvr(demo.cvr_number(p.cvr_base))

    today = service.today()
    approvals = (await session.execute(select(Approval))).scalars().all()
    statuses = sorted(service.effective_status(a, today) for a in approvals)
    assert statuses == ["active", "active", "expired", "revoked", "suspended"]
    asked = [a for a in approvals if a.reapply_by is not None]
    assert {a.municipality_id for a in asked} == {aarhus.id}
    assert all(a.valid_to >= today for a in asked)
    applications = (await session.execute(select(Application.status))).scalars().all()
    for status in (
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.DRAFT,
        ApplicationStatus.REJECTED,
    ):
        assert status in applications
    versions = (
        await session.execute(
            select(QualityStandard.version, QualityStandard.status).where(
                QualityStandard.municipality_id == aarhus.id
            )
        )
    ).all()
    assert sorted(versions) == [(1, "superseded"), (2, "published")]
    report = await audit.verify(session, municipality_id=None, all_chains=True)
    assert report.ok
