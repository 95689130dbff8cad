"""The JSON API of vouchers under /api/v1: the same operations as the pages."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from market.auth.dependencies import Session, require
from market.auth.permissions import Actor, Permission
from market.config import Settings
from vouchers.citizens import cpr, proxies
from vouchers.citizens import service as citizens_service
from vouchers.grants import service as grants_service
from vouchers.letters import service as letters_service
from vouchers.models import Citizen, VoucherGrant
from vouchers.schemas import (
    CapIn,
    CapOut,
    CitizenDetails,
    CitizenIn,
    CitizenOut,
    CitizenRecordOut,
    GrantIn,
    GrantOut,
    LetterCodeOut,
    ProxyIn,
    ProxyOut,
    RevokeIn,
    SearchIn,
    SupersedeIn,
    VoucherOut,
    WeekOut,
)

router = APIRouter(prefix="/api/v1", tags=["vouchers"])

StaffView = Annotated[Actor, Depends(require(Permission.CITIZEN_VIEW))]
StaffEdit = Annotated[Actor, Depends(require(Permission.CITIZEN_EDIT))]
GrantManager = Annotated[Actor, Depends(require(Permission.GRANT_MANAGE))]
ProxyManager = Annotated[Actor, Depends(require(Permission.PROXY_MANAGE))]
CapManager = Annotated[Actor, Depends(require(Permission.COPAYMENT_CAP_MANAGE))]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _citizen_out(citizen: Citizen) -> CitizenOut:
    assert citizen.id is not None
    return CitizenOut(
        id=citizen.id,
        full_name=citizen.full_name,
        cpr_masked=cpr.mask_cpr(citizen.birth_date),
        birth_date=citizen.birth_date,
        address=citizen.address,
        postal_code=citizen.postal_code,
        phone=citizen.phone,
        language=citizen.language,
        diet_form=citizen.diet_form,
        diet_notes=citizen.diet_notes,
        allergies=list(citizen.allergies),
        contact_name=citizen.contact_name,
        contact_phone=citizen.contact_phone,
    )


def _grant_out(grant: VoucherGrant) -> GrantOut:
    assert grant.id is not None
    return GrantOut(
        id=grant.id,
        citizen_id=grant.citizen_id,
        service=grant.service,
        units_per_week=grant.units_per_week,
        diet_form=grant.diet_form,
        allergies=list(grant.allergies),
        valid_from=grant.valid_from,
        valid_to=grant.valid_to,
        reassess_on=grant.reassess_on,
        copayment_ore=grant.copayment_ore,
        rollover=grant.rollover,
        status=grant.status,
        supersedes_id=grant.supersedes_id,
        ended_reason=grant.ended_reason,
    )


@router.get("/citizens", response_model=list[CitizenOut])
async def list_citizens(
    request: Request, session: Session, actor: StaffView, q: str = ""
) -> list[CitizenOut]:
    found = await citizens_service.search_citizens(
        session, actor=actor, secret_key=_settings(request).secret_key.get_secret_value(), query=q
    )
    return [_citizen_out(c) for c in found]


@router.post("/citizens/search", response_model=list[CitizenOut])
async def search_citizens(
    request: Request, session: Session, actor: StaffView, body: SearchIn
) -> list[CitizenOut]:
    """Search in the body, so a CPR number is never part of a URL."""
    found = await citizens_service.search_citizens(
        session,
        actor=actor,
        secret_key=_settings(request).secret_key.get_secret_value(),
        query=body.q,
    )
    return [_citizen_out(c) for c in found]


@router.post("/citizens", response_model=CitizenOut, status_code=status.HTTP_201_CREATED)
async def create_citizen(
    request: Request, session: Session, actor: StaffEdit, body: CitizenIn
) -> CitizenOut:
    citizen = await citizens_service.create_citizen(
        session,
        actor=actor,
        secret_key=_settings(request).secret_key.get_secret_value(),
        details=CitizenDetails(**{**body.model_dump(), "allergies": tuple(body.allergies)}),
    )
    return _citizen_out(citizen)


@router.get("/citizens/{citizen_id}", response_model=CitizenRecordOut)
async def citizen_record(session: Session, actor: StaffView, citizen_id: int) -> CitizenRecordOut:
    record = await citizens_service.open_citizen_record(session, actor=actor, citizen_id=citizen_id)
    return CitizenRecordOut(
        citizen=_citizen_out(record.citizen),
        login=record.user.email,
        has_password=record.user.password_hash is not None,
        grants=[_grant_out(g) for g in record.grants],
        proxies=[
            ProxyOut(
                link_id=link.id or 0,
                user_id=user.id or 0,
                full_name=user.full_name,
                email=user.email,
                relation=link.relation,
                active=link.revoked_at is None,
            )
            for link, user in record.proxies
        ],
        letter_code_expires_at=record.letter_code_expires_at,
    )


@router.post(
    "/citizens/{citizen_id}/grants", response_model=GrantOut, status_code=status.HTTP_201_CREATED
)
async def grant_voucher(
    session: Session, actor: GrantManager, citizen_id: int, body: GrantIn
) -> GrantOut:
    grant = await grants_service.grant_voucher(
        session, actor=actor, citizen_id=citizen_id, terms=body.terms()
    )
    return _grant_out(grant)


@router.post(
    "/grants/{grant_id}/supersede", response_model=GrantOut, status_code=status.HTTP_201_CREATED
)
async def supersede_grant(
    session: Session, actor: GrantManager, grant_id: int, body: SupersedeIn
) -> GrantOut:
    grant = await grants_service.supersede_grant(
        session, actor=actor, grant_id=grant_id, terms=body.terms()
    )
    return _grant_out(grant)


@router.post("/grants/{grant_id}/revoke", response_model=GrantOut)
async def revoke_grant(
    session: Session, actor: GrantManager, grant_id: int, body: RevokeIn
) -> GrantOut:
    grant = await grants_service.revoke_grant(
        session, actor=actor, grant_id=grant_id, reason=body.reason, ends_on=body.ends_on
    )
    return _grant_out(grant)


@router.post(
    "/citizens/{citizen_id}/proxies", response_model=ProxyOut, status_code=status.HTTP_201_CREATED
)
async def link_proxy(
    request: Request, session: Session, actor: ProxyManager, citizen_id: int, body: ProxyIn
) -> ProxyOut:
    linked = await proxies.link_proxy(
        session,
        actor=actor,
        settings=_settings(request),
        citizen_id=citizen_id,
        full_name=body.full_name,
        email=body.email,
        relation=body.relation,
    )
    return ProxyOut(
        link_id=linked.link.id or 0,
        user_id=linked.user.id or 0,
        full_name=linked.user.full_name,
        email=linked.user.email,
        relation=linked.link.relation,
        active=True,
        letter_code=linked.letter_code,
    )


@router.delete("/citizens/{citizen_id}/proxies/{link_id}", response_model=ProxyOut)
async def unlink_proxy(
    session: Session, actor: ProxyManager, citizen_id: int, link_id: int
) -> ProxyOut:
    link = await proxies.unlink_proxy(session, actor=actor, citizen_id=citizen_id, link_id=link_id)
    return ProxyOut(
        link_id=link.id or 0,
        user_id=link.proxy_user_id,
        full_name="",
        email="",
        relation=link.relation,
        active=False,
    )


@router.post(
    "/citizens/{citizen_id}/letter-code",
    response_model=LetterCodeOut,
    status_code=status.HTTP_201_CREATED,
)
async def issue_letter_code(
    request: Request, session: Session, actor: StaffEdit, citizen_id: int
) -> LetterCodeOut:
    code, expires_at = await letters_service.issue_letter_code(
        session, actor=actor, settings=_settings(request), citizen_id=citizen_id
    )
    url = str(request.base_url).rstrip("/") + "/letter-code?code=" + code
    return LetterCodeOut(code=code, expires_at=expires_at, url=url)


@router.get("/my-voucher", response_model=VoucherOut)
async def my_voucher(
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.VOUCHER_VIEW_OWN))],
    citizen: int | None = None,
) -> VoucherOut:
    view = await grants_service.my_voucher(session, actor=actor, citizen_id=citizen)
    return VoucherOut(
        citizen_id=view.citizen.id if view.citizen else None,
        full_name=view.citizen.full_name if view.citizen else None,
        grant_id=view.grant.id if view.grant else None,
        copayment_ore=view.grant.copayment_ore if view.grant else None,
        units_per_week=view.grant.units_per_week if view.grant else None,
        valid_to=view.grant.valid_to if view.grant else None,
        weeks=[WeekOut(**w.__dict__) for w in view.weeks],
        choices=[{"citizen_id": c.id, "full_name": c.full_name} for c in view.choices],
    )


@router.get("/copayment-caps", response_model=list[CapOut])
async def list_caps(session: Session, actor: CapManager) -> list[CapOut]:
    caps = await grants_service.copayment_caps(session, actor=actor)
    return [CapOut(year=c.year, cap_ore=c.cap_ore) for c in caps]


@router.put("/copayment-caps/{year}", response_model=CapOut)
async def set_cap(session: Session, actor: CapManager, year: int, body: CapIn) -> CapOut:
    cap = await grants_service.set_own_copayment_cap(
        session, actor=actor, year=year, cap_ore=body.cap_ore
    )
    return CapOut(year=cap.year, cap_ore=cap.cap_ore)
