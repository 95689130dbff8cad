from market.errors import N_, Conflict, InvalidInput, NotAuthenticated, TooManyRequests


class LoginFailed(NotAuthenticated):
    keeps_changes = True

    def __init__(self) -> None:
        super().__init__(N_("The e-mail address or the password is wrong."))


class LoginBackedOff(TooManyRequests):
    def __init__(self, seconds: int) -> None:
        super().__init__(
            N_("Too many failed attempts. Please wait {seconds} seconds and try again."),
            seconds=seconds,
        )


class SecondFactorWrong(NotAuthenticated):
    keeps_changes = True

    def __init__(self) -> None:
        super().__init__(N_("The code from your authenticator app is wrong or too old."))


class SecondFactorReplayed(SecondFactorWrong):
    def __init__(self) -> None:
        NotAuthenticated.__init__(
            self,
            N_("This code has already been used. Wait for the next code in your app."),
        )


class SecondFactorBackedOff(TooManyRequests):
    def __init__(self, seconds: int) -> None:
        super().__init__(
            N_("Too many wrong codes. Please wait {seconds} seconds and try again."),
            seconds=seconds,
        )


class ApiTokenExpired(NotAuthenticated):
    def __init__(self, expired_on: str | None) -> None:
        if expired_on is None:
            super().__init__(
                N_(
                    "This API token was made before tokens had scopes and an expiry date, "
                    "and no longer works. An administrator can create a new one on the "
                    "API tokens page."
                )
            )
        else:
            super().__init__(
                N_(
                    "This API token expired on {date}. An administrator can create a new "
                    "one on the API tokens page."
                ),
                date=expired_on,
            )


class EmailTaken(Conflict):
    def __init__(self, email: str) -> None:
        super().__init__(N_("A user with the e-mail address {email} already exists."), email=email)


class WeakPassword(InvalidInput):
    def __init__(self) -> None:
        super().__init__(N_("The password must be at least 10 characters long."))


class InvalidRoleScope(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            N_("A municipal role needs a municipality and a provider role needs a provider.")
        )


class LetterCodeInvalid(NotAuthenticated):
    keeps_changes = True  # the failed use is an audit event and must be stored

    def __init__(self) -> None:
        super().__init__(
            N_(
                "This code is not valid. It may be mistyped, used already, or replaced "
                "by a newer letter. Please call the municipality for a new letter."
            )
        )


class LetterCodeBackedOff(TooManyRequests):
    def __init__(self, seconds: int) -> None:
        super().__init__(
            N_(
                "Too many codes were tried. Please wait {seconds} seconds and try again, "
                "or call the municipality for help."
            ),
            seconds=seconds,
        )


class LetterCodeExpired(NotAuthenticated):
    keeps_changes = True

    def __init__(self) -> None:
        super().__init__(
            N_("This code has expired. Please call the municipality for a new letter.")
        )
