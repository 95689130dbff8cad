from market.errors import (
    N_,
    Conflict,
    IllegalTransition,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    UnsupportedMediaType,
)


class InvalidCvr(InvalidInput):
    def __init__(self, cvr: str) -> None:
        super().__init__(
            N_(
                "{cvr} is not a valid CVR number: it must be 8 digits, not start with 0, "
                "and pass the modulus 11 check."
            ),
            cvr=cvr or "''",
        )


class CvrTaken(Conflict):
    def __init__(self, cvr: str) -> None:
        super().__init__(N_("A provider with CVR number {cvr} is already registered."), cvr=cvr)


class ProviderNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That provider does not exist."))


class StandardNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That quality standard does not exist."))


class RequirementNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That requirement does not exist."))


class ApplicationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That application does not exist."))


class ApprovalNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That approval does not exist."))


class UploadNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That document does not exist."))


class NotAProviderUser(PermissionDenied):
    def __init__(self) -> None:
        super().__init__(N_("Only a provider's own users can do this."))


class NotAMunicipalUser(PermissionDenied):
    def __init__(self) -> None:
        super().__init__(N_("Only staff of a municipality can do this."))


class StandardNotEditable(Conflict):
    def __init__(self, status: str) -> None:
        if status == "superseded":
            message = N_(
                "A quality standard that is superseded cannot be changed. Create a new version."
            )
        else:
            message = N_(
                "A quality standard that is published cannot be changed. Create a new version."
            )
        super().__init__(message)


class NoPublishedStandard(Conflict):
    def __init__(self, municipality: str, service: str) -> None:
        super().__init__(
            N_("{municipality} has not published a quality standard for {service} yet."),
            municipality=municipality,
            service=service,
        )


class UploadTooLarge(PayloadTooLarge):
    def __init__(self, limit_mb: str) -> None:
        super().__init__(
            N_("The file is too large. Documents may be at most {limit} MB."), limit=limit_mb
        )


class UploadDamaged(UnsupportedMediaType):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "The file could not be read: it is damaged, or not the kind of file it "
                "claims to be. Please upload a PDF, PNG, JPEG or WebP file."
            )
        )


class UploadTypeNotAllowed(UnsupportedMediaType):
    def __init__(self) -> None:
        super().__init__(
            N_("This kind of file is not accepted. Please upload a PDF, PNG, JPEG or WebP file.")
        )


__all__ = [
    "ApplicationNotFound",
    "ApprovalNotFound",
    "Conflict",
    "CvrTaken",
    "IllegalTransition",
    "InvalidCvr",
    "InvalidInput",
    "InvalidTerms",
    "NoPublishedStandard",
    "NotAMunicipalUser",
    "NotAProviderUser",
    "ProviderNotFound",
    "RequirementNotFound",
    "StandardNotEditable",
    "StandardNotFound",
    "UploadNotFound",
    "UploadTooLarge",
    "UploadTypeNotAllowed",
]


class OfferNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That meal is not on the menu."))


class InvalidTerms(InvalidInput, ValueError):
    """Contract terms that break a rule: a 422 with the sentence for the admin,
    and a ValueError for code that computes with the terms (settlement)."""
