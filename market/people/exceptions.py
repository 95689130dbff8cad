from market.errors import N_, AppError, InvalidInput, NotFound, PermissionDenied


class LinkNotValid(AppError):
    """One sentence for every reason (unknown, used, expired, account closed), so a
    link's answer says nothing about the account behind it."""

    status_code = 410
    code = "link_not_valid"

    def __init__(self) -> None:
        super().__init__(
            N_(
                "This link can no longer be used: it has been used already or it has expired. "
                "Ask for a new one."
            )
        )


class PersonNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("That person does not exist or does not work for you."))


class RoleNotAllowed(InvalidInput):
    def __init__(self) -> None:
        super().__init__(N_("You cannot give that role."))


class NotOnYourself(PermissionDenied):
    def __init__(self) -> None:
        super().__init__(N_("You cannot do this to your own account. Ask another administrator."))
