"""Thin wrappers over the AWS APIs capacity reads: one module per service, clients from finops.aws.clients."""

from capacity.aws.paging import ClientFactory, RequestCount, pages

__all__ = ["ClientFactory", "RequestCount", "pages"]
