"""The words citizens' needs and providers' offers share: diet forms and the
EU's 14 allergens. One vocabulary, so a need and an offer can be matched."""

from enum import StrEnum

from market.errors import N_


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


# Words to show people (msgids; translated where shown).
DIET_FORM_LABELS = {
    DietForm.NORMAL: N_("Normal"),
    DietForm.ENERGY_DENSE: N_("Energy-dense (small eaters)"),
    DietForm.SOFT: N_("Soft"),
    DietForm.MINCED: N_("Minced"),
    DietForm.PUREED: N_("Puréed"),
    DietForm.DIABETIC: N_("Diabetic"),
}
ALLERGEN_LABELS = {
    Allergen.GLUTEN: N_("Cereals containing gluten"),
    Allergen.CRUSTACEANS: N_("Crustaceans"),
    Allergen.EGGS: N_("Eggs"),
    Allergen.FISH: N_("Fish"),
    Allergen.PEANUTS: N_("Peanuts"),
    Allergen.SOYBEANS: N_("Soybeans"),
    Allergen.MILK: N_("Milk"),
    Allergen.NUTS: N_("Nuts"),
    Allergen.CELERY: N_("Celery"),
    Allergen.MUSTARD: N_("Mustard"),
    Allergen.SESAME: N_("Sesame seeds"),
    Allergen.SULPHITES: N_("Sulphur dioxide and sulphites"),
    Allergen.LUPIN: N_("Lupin"),
    Allergen.MOLLUSCS: N_("Molluscs"),
}
