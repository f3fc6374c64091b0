"""Webhooks in the admin: endpoints (the URL through the same validator as the owner's form),
deliveries read-only with their last error, and the attempts log."""

from django.contrib import admin

from tracker.webhooks.forms import EndpointAdminForm
from tracker.webhooks.models import Delivery, DeliveryAttempt, Endpoint
from tracker.webhooks.services import secret_new


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    form = EndpointAdminForm
    list_display = ("name", "organisation", "format", "enabled", "consecutive_failures",
                    "created_at")  # fmt: skip
    list_filter = ("enabled", "format")
    search_fields = ("name", "url", "organisation__name")
    list_select_related = ("organisation",)
    raw_id_fields = ("organisation", "created_by")
    readonly_fields = ("secret", "previous_secret", "previous_secret_until", "disabled_at",
                       "consecutive_failures", "created_at")  # fmt: skip
    fields = ("organisation", "name", "url", "format", "events", "enabled", "disabled_reason",
              *readonly_fields, "created_by")  # fmt: skip

    def save_model(self, request, obj, form, change):
        if not obj.secret:
            obj.secret = secret_new()
        super().save_model(request, obj, form, change)


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("at", "outcome", "status_code", "duration_ms", "error", "response_excerpt")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-at",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("event_type", "endpoint", "status", "attempts", "last_status_code",
                    "last_error", "next_attempt_at", "created_at")  # fmt: skip
    list_filter = ("status", "event_type")
    search_fields = ("webhook_id", "dedupe_key", "endpoint__name")
    list_select_related = ("endpoint__organisation",)
    inlines = [AttemptInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # read-only: the worker writes deliveries, people read them


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(admin.ModelAdmin):
    list_display = ("at", "endpoint", "outcome", "status_code", "duration_ms", "error")
    list_filter = ("outcome",)
    list_select_related = ("endpoint__organisation", "delivery")
    search_fields = ("endpoint__name", "delivery__webhook_id")

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
