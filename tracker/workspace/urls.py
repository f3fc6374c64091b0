from django.urls import path

from tracker.workspace import (
    calendar_urls,
    dashboard_urls,
    evidence_urls,
    import_views,
    incident_views,
    member_views,
    token_urls,
    views,
)

app_name = "workspace"
urlpatterns = [
    *dashboard_urls.urlpatterns,
    path("", views.home, name="home"),
    path("invitations/<str:token>/", member_views.invitation, name="invitation"),
    path("import/", import_views.organisation_import_view, name="import"),
    path("mail/stop/<str:token>/", views.mail_stop, name="mail_stop"),
    path("<slug:slug>/", views.timeline, name="timeline"),
    path("<slug:slug>/members/", member_views.members, name="members"),
    path("<slug:slug>/my-reminders/", views.my_reminders, name="my_reminders"),
    path("<slug:slug>/members/<int:pk>/remove/", member_views.member_remove, name="member_remove"),
    path("<slug:slug>/members/<int:pk>/role/", member_views.member_role, name="member_role"),
    path(
        "<slug:slug>/members/transfer/",
        member_views.ownership_transfer,
        name="ownership_transfer",
    ),
    path(
        "<slug:slug>/members/invitations/<int:pk>/revoke/",
        member_views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "<slug:slug>/members/invitations/<int:pk>/resend/",
        member_views.invitation_resend,
        name="invitation_resend",
    ),
    path("<slug:slug>/profile/", views.profile, name="profile"),
    path("<slug:slug>/systems/", views.systems, name="systems"),
    path("<slug:slug>/systems/<int:pk>/", views.systems, name="system"),
    path("<slug:slug>/items/<int:pk>/", views.item, name="item"),
    *evidence_urls.urlpatterns,
    *token_urls.urlpatterns,
    *calendar_urls.urlpatterns,
    path("<slug:slug>/incidents/", incident_views.incidents, name="incidents"),
    path("<slug:slug>/incidents/<int:pk>/", incident_views.incident_edit, name="incident_edit"),
    path(
        "<slug:slug>/incidents/<int:pk>/reported/",
        incident_views.incident_reported,
        name="incident_reported",
    ),
]
