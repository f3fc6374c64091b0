from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tracker.accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib import admin

        # The admin says whose it is (templates/admin/base_site.html adds the favicon).
        admin.site.site_header = "Jalon administration"
        admin.site.site_title = "Jalon administration"
        admin.site.index_title = "Catalogue, workspace and delivery"
