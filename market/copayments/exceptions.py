from datetime import date

from market.errors import N_, Conflict


class MonthNotEnded(Conflict):
    def __init__(self, month_on: date) -> None:
        super().__init__(
            N_(
                "{month} has not ended yet. Co-payment statements are issued for ended months only."
            ),
            month=month_on.strftime("%Y-%m"),
        )


class NothingNewToCharge(Conflict):
    def __init__(self, month_on: date) -> None:
        super().__init__(
            N_(
                "Nothing new to charge for {month}: every meal owed for that month is "
                "already on a statement or paid by card."
            ),
            month=month_on.strftime("%Y-%m"),
        )
