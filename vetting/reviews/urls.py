"""Site pages of this app (added as the app grows)."""
urlpatterns: list = []
