from market.errors import N_, Conflict, InvalidInput, NotAuthenticated, NotFound, PermissionDenied


class ProviderNotConfigured(NotFound):
    def __init__(self) -> None:
        super().__init__(N_("This municipality has not set up this way of signing in."))


class BadProviderSettings(InvalidInput):
    pass


class BindingLinkInvalid(NotFound):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "This link is not valid: it has been used or has expired. "
                "Ask your municipality's administrator for a new one."
            )
        )


class SubjectTaken(Conflict):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "This login at the identity provider already belongs to another account. "
                "Contact your municipality."
            )
        )


class SignInRefused(NotAuthenticated):
    """The identity provider's answer did not sign anyone in. The reason is kept
    for the audit log; the person sees one plain sentence."""

    keeps_changes = True

    def __init__(self, reason: str) -> None:
        super().__init__(
            N_("The sign-in could not be completed. Please start again from the sign-in page.")
        )
        self.reason = reason


class NoStaffAccess(PermissionDenied):
    keeps_changes = True

    def __init__(self) -> None:
        super().__init__(N_("You do not have access yet — contact your municipality."))


class StaffPasswordsSwitchedOff(PermissionDenied):
    def __init__(self) -> None:
        super().__init__(
            N_(
                "Your municipality has switched off passwords for its staff. "
                "Sign in as staff through your municipality's login instead."
            )
        )
