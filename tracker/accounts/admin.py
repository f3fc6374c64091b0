from django.contrib import admin

from tracker.accounts.models import EmailVerification


@admin.register(EmailVerification)
class EmailVerificationAdmin(admin.ModelAdmin):
    """Read-only: an address is verified by its owner's link, never by hand here."""

    list_display = ["user", "email", "verified_at", "link_sent_at", "language"]
    list_filter = [("verified_at", admin.EmptyFieldListFilter), "language"]
    search_fields = ["email", "user__username", "user__email"]
    list_select_related = ["user"]
    actions = None  # nothing to do in bulk: a person verifies by the link

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
