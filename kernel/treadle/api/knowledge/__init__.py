"""The Knowledge API (``/v1/datasets/...`` and ``/v1/workspaces/current/models/...``), Dify-compatible,
opened by a workspace's knowledge key: one module per group of the endpoint table (spec section 1.2,
"Knowledge API")."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from . import datasets, documents, metadata, models, segments, tags
from .external_contract import external_retrieval

__all__ = ["knowledge_routes"]


def knowledge_routes() -> list[BaseRoute]:
    """Every Knowledge API route, relative to ``/v1``. The tag routes come first: ``/datasets/tags``
    would otherwise be read as the dataset ``tags``. ``POST /retrieval`` serves our datasets to other
    platforms as an external knowledge API (KB-EXT-SPEC; register ``https://<treadle>/v1`` there)."""
    return [
        *tags.ROUTES, *datasets.ROUTES, *documents.ROUTES, *segments.ROUTES, *metadata.ROUTES, *models.ROUTES,
        Route("/retrieval", external_retrieval, methods=["POST"]),
    ]
