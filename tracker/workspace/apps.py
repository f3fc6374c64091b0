from django.apps import AppConfig

# Model fields that are no condition of an obligation: a name is not a legal fact, and the
# date of placing on the market decides the milestone (Art. 111), not whether a duty applies.
NOT_CONDITIONS = ("name", "placed_on_market")


def fact_vocabulary() -> dict[str, tuple | None]:
    """The facts an obligation's conditions may name, with their allowed values.

    Built from the lists the workspace validates systems and companies against, so a pack or an
    admin edit can only name what a system can hold. "roles" is who may owe a duty.
    """
    from django.db import models

    from tracker.workspace import applicability as law
    from tracker.workspace import facts
    from tracker.workspace.models import AISystem, Organisation

    values = {
        "roles": law.ROLES,
        "risk_class": law.RISKS,
        "annex_iii_point": law.ANNEX_III_POINTS,
        # "" is a system whose section is not recorded, read as Section A (applicability.py).
        "annex_i_section": (*law.ANNEX_I_SECTIONS, ""),
        "art50": law.ART50,
        "art25": law.ART25,
    }
    vocabulary: dict[str, tuple | None] = {}
    for model, names in ((AISystem, facts.MODEL_FIELDS), (Organisation, facts.COMPANY_FLAGS)):
        for name in names:
            if name in NOT_CONDITIONS:
                continue
            if name in values:
                vocabulary[name] = tuple(values[name])
            elif isinstance(model._meta.get_field(name), models.BooleanField):
                vocabulary[name] = (True, False)
            else:
                vocabulary[name] = None
    return vocabulary


class WorkspaceConfig(AppConfig):
    name = "tracker.workspace"
    verbose_name = "Organisation workspace"

    def ready(self) -> None:
        from tracker.catalogue.conditions import register_fact_vocabulary
        from tracker.workspace import receivers

        receivers.connect()
        register_fact_vocabulary(fact_vocabulary())
