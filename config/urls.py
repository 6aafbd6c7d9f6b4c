from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from capacity.api.metrics import metrics
from capacity.api.urls import register as capacity_register
from capacity.api.urls import urlpatterns as capacity_api_urls
from config.api import Router
from config.views import healthz
from finops.api.urls import register as finops_register
from finops.api.urls import urlpatterns as finops_api_urls

router = Router(trailing_slash="/?")
finops_register(router)
capacity_register(router)

urlpatterns = [
    path("", include("dashboards.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(finops_api_urls)),
    path("api/v1/", include(capacity_api_urls)),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
]
