"""Dashboard URLs (kept apart from urls.py so the dashboard can grow on its own)."""

app_name = "workspace"
urlpatterns: list = []
