"""One way for a page to answer htmx with fragments of itself (STYLE.md: htmx returns fragments from the same view).

A page names its fragments, each as (template, name of the method that builds its context):
- `fragment_panels`: by the `?panel=` parameter, answered whoever asks (a panel the page loads with
  hx-trigger="load" can be opened on its own);
- `fragment_targets`: by the element an htmx request will swap (its HX-Target header);
- `fragment_htmx`: the fragment for any other htmx request (the page's controls), or None for the full page.
A history restore (HX-History-Restore-Request) gets the full page, since htmx swaps it in whole. Every answer,
page or fragment, varies on the headers that chose it, so that no cache hands a fragment to a page load or the
reverse.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

Fragment = tuple[str, str]


def htmx_request(request: HttpRequest) -> bool:
    """An htmx request for part of the page (not a history restore, which wants the whole page)."""
    return bool(request.headers.get("HX-Request")) and not request.headers.get("HX-History-Restore-Request")


class FragmentMixin:
    fragment_panels: dict[str, Fragment] = {}
    fragment_targets: dict[str, Fragment] = {}
    fragment_htmx: Fragment | None = None
    fragment_vary: tuple[str, ...] = ("HX-Request", "HX-Target")

    def get(self, request, *args, **kwargs):
        fragment = self.fragment_chosen(request)
        if fragment is None:
            response = super().get(request, *args, **kwargs)
        else:
            template, context_method = fragment
            response = render(request, template, getattr(self, context_method)())
        patch_vary_headers(response, list(self.fragment_vary))
        return response

    def fragment_chosen(self, request: HttpRequest) -> Fragment | None:
        """The fragment this request asks for, or None for the full page."""
        panel = request.GET.get("panel")
        if panel in self.fragment_panels:
            return self.fragment_panels[panel]
        if not htmx_request(request):
            return None
        return self.fragment_targets.get(request.headers.get("HX-Target", ""), self.fragment_htmx)
