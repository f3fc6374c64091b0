from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "tracker.catalogue"
    verbose_name = "Legal catalogue"
