from pydantic import BaseModel


class ChainResult(BaseModel):
    chain: str
    events: int
    ok: bool
    broken_at_seq: int | None
    problem: str | None


class VerifyResult(BaseModel):
    ok: bool
    chains: list[ChainResult]
