"""Demo data for this domain (called by market.demo.seed): quality standards
for madservice in Aarhus (with an older, superseded version) and Odense, and
providers in every state. Everything goes through the services, so the audit
chain reads like real use."""

import io
from dataclasses import dataclass, field
from datetime import date, timedelta

import pypdf
from sqlalchemy.ext.asyncio import AsyncSession

from market import clock
from market.auth import service as auth_service
from market.auth.models import Role, User
from market.auth.permissions import Actor
from market.config import Settings
from market.municipalities.models import Municipality
from providers.applications import service as applications_service
from providers.applications.documents import DocumentIn
from providers.approvals import service as approvals_service
from providers.common import CVR_WEIGHTS
from providers.models import Requirement, RequirementKind
from providers.registry import service as registry_service
from providers.schemas import (
    ApprovalIn,
    DecisionIn,
    EvidenceIn,
    ProviderRegistration,
    RequirementIn,
    StandardCreate,
)
from providers.standards import service as standards_service


def _demo_pdf() -> bytes:
    """A one-page PDF with a real cross-reference table: uploads are parsed in
    full before they are stored."""
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


DEMO_PDF = _demo_pdf()

BASE_REQUIREMENTS = [
    RequirementIn(
        key="foedevaregodkendelse",
        title="Fødevaregodkendelse og seneste smiley-rapport",
        description=(
            "Køkkenet er registreret eller godkendt hos Fødevarestyrelsen. "
            "Vedlæg den seneste kontrolrapport (smiley)."
        ),
        kind=RequirementKind.ATTESTATION,
    ),
    RequirementIn(
        key="allergenhaandtering",
        title="Procedure for allergenhåndtering",
        description="Skriftlig procedure for adskillelse, mærkning og information om allergener.",
        kind=RequirementKind.DOCUMENT,
    ),
    RequirementIn(
        key="koelekaede",
        title="Kølekæde under levering",
        description="Højeste temperatur i kølede retter fra køkken til borgerens køleskab.",
        kind=RequirementKind.NUMERIC_THRESHOLD,
        unit="°C",
        max_value="5",
    ),
    RequirementIn(
        key="leveringsvindue",
        title="Levering mellem kl. 10 og 13 med varsling ved forsinkelse",
        description="Borgeren får besked, hvis leveringen bliver mere end 30 minutter forsinket.",
        kind=RequirementKind.ATTESTATION,
    ),
    RequirementIn(
        key="ansvarsforsikring",
        title="Erhvervs- og produktansvarsforsikring",
        description="Forsikringssum pr. skade.",
        kind=RequirementKind.NUMERIC_THRESHOLD,
        unit="kr.",
        min_value="5000000",
    ),
]

DIET_FORMS = RequirementIn(
    key="kostformer",
    title="Kostformer: normalkost, energitæt kost og konsistenstilpasset kost",
    description=(
        "Der tilbydes normalkost, energi- og proteinrig kost til småtspisende samt "
        "konsistenstilpasset kost (blød, findelt og gelé/puré) og diabeteskost."
    ),
    kind=RequirementKind.ATTESTATION,
)


def cvr_number(base: int) -> str:
    """The first valid CVR number from the 7-digit ``base`` on (check digit by modulus 11)."""
    while True:
        digits = str(base)
        rest = sum(int(d) * w for d, w in zip(digits, CVR_WEIGHTS[:7], strict=True)) % 11
        check = (11 - rest) % 11
        if check < 10:
            return digits + str(check)
        base += 1


@dataclass
class DemoProvider:
    name: str
    cvr_base: int
    address: str
    postal_code: str
    city: str
    contact: str
    domain: str


PROVIDERS = {
    "active": DemoProvider(
        "Smagfuldt Madservice ApS",
        3817204,
        "Værkmestergade 12",
        "8000",
        "Aarhus C",
        "Lone Kristensen",
        "smagfuldt.example",
    ),
    "suspended": DemoProvider(
        "Mormors Køkken I/S",
        2945518,
        "Viby Torv 3",
        "8260",
        "Viby J",
        "Jens Mortensen",
        "mormorskoekken.example",
    ),
    "revoked": DemoProvider(
        "Østjysk Mad & Omsorg A/S",
        2174409,
        "Randersvej 220",
        "8200",
        "Aarhus N",
        "Peter Holm",
        "oestjyskmad.example",
    ),
    "expired": DemoProvider(
        "Frokostkompagniet ApS",
        3390127,
        "Silkeborgvej 41",
        "8230",
        "Åbyhøj",
        "Camilla Juhl",
        "frokostkompagniet.example",
    ),
    "submitted": DemoProvider(
        "Det Grønne Fælleskøkken",
        4052863,
        "Brabrand Hovedgade 7",
        "8220",
        "Brabrand",
        "Ahmad Rahimi",
        "groennefaelleskoekken.example",
    ),
    "draft": DemoProvider(
        "Madværkstedet Højbjerg ApS",
        4418275,
        "Holme Byvej 15",
        "8270",
        "Højbjerg",
        "Sofie Lund",
        "madvaerkstedet.example",
    ),
    "rejected": DemoProvider(
        "Hurtig Hjemmemad ApS",
        3761590,
        "Nørregade 40",
        "5000",
        "Odense C",
        "Kim Larsen",
        "hurtighjemmemad.example",
    ),
}

WHO = {
    "active": "provider admin, approved in Aarhus and Odense",
    "suspended": "provider admin, approval suspended",
    "revoked": "provider admin, approval revoked",
    "expired": "provider admin, approval expired",
    "submitted": "provider admin, application awaiting review",
    "draft": "provider admin, application in draft",
    "rejected": "provider admin, application rejected",
}


async def _standard(
    session: AsyncSession,
    admin: Actor,
    title: str,
    extra: list[RequirementIn],
    reapply_by: date | None,
) -> standards_service.StandardView:
    draft = await standards_service.create_standard(
        session, actor=admin, data=StandardCreate(service="madservice", title=title)
    )
    standard_id = draft.standard.id
    assert standard_id is not None
    have = {r.key for r in draft.requirements}
    for requirement in [*BASE_REQUIREMENTS, *extra]:
        if requirement.key not in have:
            await standards_service.add_requirement(
                session, actor=admin, standard_id=standard_id, data=requirement
            )
    return await standards_service.publish_standard(
        session, actor=admin, standard_id=standard_id, reapply_by=reapply_by
    )


def _evidence(
    requirements: list[Requirement], *, cold: str = "4", insured: str = "10000000"
) -> list[EvidenceIn]:
    answers = []
    for r in requirements:
        assert r.id is not None
        if r.kind == RequirementKind.ATTESTATION:
            answers.append(
                EvidenceIn(requirement_id=r.id, attested=True, statement="Opfyldt; se bilag.")
            )
        elif r.key == "koelekaede":
            answers.append(
                EvidenceIn(requirement_id=r.id, value=cold, statement="Logges i hver kølebil.")
            )
        elif r.key == "ansvarsforsikring":
            answers.append(
                EvidenceIn(requirement_id=r.id, value=insured, statement="Tryg, police 4471")
            )
    return answers


def _documents(requirements: list[Requirement]) -> list[DocumentIn]:
    files = {
        "foedevaregodkendelse": "smiley-kontrolrapport.pdf",
        "allergenhaandtering": "allergenprocedure.pdf",
    }
    return [
        DocumentIn(r.id, files[r.key], _Bytes(DEMO_PDF))
        for r in requirements
        if r.id is not None and r.key in files
    ]


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._data = data

    async def read(self, size: int = -1) -> bytes:
        chunk = self._data if size < 0 else self._data[:size]
        self._data = self._data[len(chunk) :]
        return chunk


async def seed(
    session: AsyncSession,
    *,
    municipalities: list[Municipality],
    users: dict[str, User],
    password: str,
    settings: Settings,
) -> list[tuple[str, str]]:
    aarhus, odense = municipalities[0], municipalities[1]
    assert aarhus.id is not None and odense.id is not None
    aarhus_admin = auth_service.actor_for(users["admin@aarhus.example"])
    odense_admin = auth_service.actor_for(users["admin@odense.example"])
    aarhus_v1 = await _standard(
        session, aarhus_admin, "Kvalitetsstandard for madservice 2025", [], None
    )
    odense_v1 = await _standard(
        session, odense_admin, "Kvalitetsstandard for madservice", [DIET_FORMS], None
    )
    seeder = _Seeder(session, settings)
    logins = await seeder.register_providers(password)
    await _approvals_in_every_state(
        seeder, (aarhus_v1, aarhus, aarhus_admin), (odense_v1, odense, odense_admin)
    )
    # The new version demands the texture-modified diet forms: approved providers re-apply.
    aarhus_v2 = await _standard(
        session,
        aarhus_admin,
        "Kvalitetsstandard for madservice 2026",
        [DIET_FORMS],
        clock.today() + timedelta(days=90),
    )
    await seeder.apply("submitted", aarhus_v2, aarhus)
    await seeder.apply("draft", aarhus_v2, aarhus, submit=False, cold="7")
    await _rejected_application(seeder, odense_v1, odense, odense_admin)
    assert aarhus_v2.standard.id is not None
    return logins


# A municipality's published standard, the municipality and its admin.
Venue = tuple[standards_service.StandardView, Municipality, Actor]


@dataclass
class _Seeder:
    """Registers the demo providers and takes them through applying and approval."""

    session: AsyncSession
    settings: Settings
    actors: dict[str, Actor] = field(default_factory=dict)

    async def register_providers(self, password: str) -> list[tuple[str, str]]:
        logins: list[tuple[str, str]] = []
        for state, p in PROVIDERS.items():
            email = f"admin@{p.domain}"
            registration = await registry_service.register_provider(
                self.session,
                actor=None,
                registration=ProviderRegistration(
                    name=p.name,
                    cvr=cvr_number(p.cvr_base),
                    address=p.address,
                    postal_code=p.postal_code,
                    city=p.city,
                    contact_name=p.contact,
                    contact_email=f"kontakt@{p.domain}",
                    contact_phone="+45 70 20 30 40",
                    admin_email=email,
                    admin_full_name=p.contact,
                    admin_password=password,
                ),
            )
            self.actors[state] = auth_service.actor_for(registration.admin)
            logins.append((WHO[state], email))
            if state == "active":
                staff = await auth_service.create_user(
                    self.session,
                    actor=self.actors[state],
                    email=f"kok@{p.domain}",
                    full_name="Mads Kok",
                    password=password,
                    role=Role.PROVIDER_STAFF,
                    provider_id=registration.provider.id,
                )
                logins.append(("provider staff, approved provider", staff.email))
        return logins

    async def apply(
        self,
        state: str,
        standard: standards_service.StandardView,
        municipality: Municipality,
        *,
        submit: bool = True,
        cold: str = "4",
    ) -> int:
        assert municipality.id is not None
        started = await applications_service.start_application(
            self.session, actor=self.actors[state], municipality_id=municipality.id
        )
        application_id = started.application.id
        assert application_id is not None
        await applications_service.save_application(
            self.session,
            actor=self.actors[state],
            settings=self.settings,
            application_id=application_id,
            evidence=_evidence(standard.requirements, cold=cold),
            documents=_documents(standard.requirements),
            submit=submit,
        )
        return application_id

    async def approve(
        self,
        state: str,
        venue: Venue,
        *,
        valid_from: date,
        valid_to: date,
        area: str,
        capacity: int,
        price: str,
    ) -> int:
        standard, municipality, admin = venue
        application_id = await self.apply(state, standard, municipality)
        await applications_service.record_decisions(
            self.session,
            actor=admin,
            application_id=application_id,
            decisions=[
                DecisionIn(requirement_id=r.id or 0, met=True, comment="Dokumentation i orden.")
                for r in standard.requirements
            ],
        )
        view = await approvals_service.approve_application(
            self.session,
            actor=admin,
            application_id=application_id,
            terms=ApprovalIn(
                valid_from=valid_from,
                valid_to=valid_to,
                service_area=area,
                daily_capacity=capacity,
                unit_price=price,
            ),
        )
        assert view.approval.id is not None
        return view.approval.id


async def _approvals_in_every_state(seeder: _Seeder, aarhus: Venue, odense: Venue) -> None:
    """Active in both municipalities, then suspended, revoked and expired in Aarhus."""
    today = clock.today()
    current = {"valid_from": today - timedelta(days=150), "valid_to": today + timedelta(days=580)}
    aarhus_admin = aarhus[2]
    await seeder.approve(
        "active", aarhus, **current, area="8000 8200 8210 8220 8230", capacity=250, price="85,00"
    )
    await seeder.approve(
        "active", odense, **current, area="5000 5200 5210", capacity=120, price="87,50"
    )
    suspended = await seeder.approve(
        "suspended", aarhus, **current, area="8260 8270", capacity=90, price="82,50"
    )
    await approvals_service.suspend_approval(
        seeder.session,
        actor=aarhus_admin,
        approval_id=suspended,
        reason="Kontrolrapport med påbud om kølekæden; suspenderet indtil genbesøg.",
    )
    revoked = await seeder.approve(
        "revoked", aarhus, **current, area="8200 8240", capacity=150, price="88,00"
    )
    await approvals_service.revoke_approval(
        seeder.session,
        actor=aarhus_admin,
        approval_id=revoked,
        reason="Gentagne udeblevne leveringer trods skærpet tilsyn.",
    )
    await seeder.approve(
        "expired",
        aarhus,
        valid_from=today - timedelta(days=500),
        valid_to=today - timedelta(days=20),
        area="8230 8210",
        capacity=60,
        price="79,00",
    )


async def _rejected_application(
    seeder: _Seeder,
    standard: standards_service.StandardView,
    municipality: Municipality,
    admin: Actor,
) -> None:
    rejected = await seeder.apply("rejected", standard, municipality)
    cold_chain = next(r for r in standard.requirements if r.key == "koelekaede")
    await applications_service.record_decisions(
        seeder.session,
        actor=admin,
        application_id=rejected,
        decisions=[
            DecisionIn(
                requirement_id=cold_chain.id or 0,
                met=False,
                comment="Temperaturlog mangler for de sidste tre måneder.",
            )
        ],
    )
    await applications_service.reject_application(
        seeder.session,
        actor=admin,
        application_id=rejected,
        reason="Kølekæden er ikke dokumenteret. I er velkomne til at søge igen.",
    )
