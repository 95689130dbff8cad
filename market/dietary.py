"""The words citizens' needs and providers' offers share: diet forms and the
EU's 14 allergens. One vocabulary, so a need and an offer can be matched."""

from enum import StrEnum


class Allergen(StrEnum):
    """The 14 allergens EU Regulation 1169/2011 (Annex II) requires to be declared."""

    GLUTEN = "gluten"
    CRUSTACEANS = "crustaceans"
    EGGS = "eggs"
    FISH = "fish"
    PEANUTS = "peanuts"
    SOYBEANS = "soybeans"
    MILK = "milk"
    NUTS = "nuts"
    CELERY = "celery"
    MUSTARD = "mustard"
    SESAME = "sesame"
    SULPHITES = "sulphites"
    LUPIN = "lupin"
    MOLLUSCS = "molluscs"


class DietForm(StrEnum):
    NORMAL = "normal"
    ENERGY_DENSE = "energy_dense"
    SOFT = "soft"
    MINCED = "minced"
    PUREED = "pureed"
    DIABETIC = "diabetic"
