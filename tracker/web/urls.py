from django.urls import path

from tracker.web import views

app_name = "web"
urlpatterns = [
    path("", views.timeline, name="timeline"),
    path("milestones/<slug:key>/", views.milestone_detail, name="milestone"),
]
