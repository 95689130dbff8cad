from market.errors import N_, Conflict, InvalidInput, NotFound


class MunicipalityNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That municipality does not exist."))


class UnknownPostalCode(InvalidInput):
    def __init__(self, postal_code: str, municipality: str) -> None:
        super().__init__(
            N_("Postal code {postal_code} is not served by {municipality}."),
            postal_code=postal_code,
            municipality=municipality,
        )


class MunicipalityCodeTaken(Conflict):
    def __init__(self, code: str) -> None:
        super().__init__(N_("A municipality with code {code} already exists."), code=code)
