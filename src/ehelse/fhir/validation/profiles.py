"""stub"""
from __future__ import annotations
from typing import Any
from ehelse.errors import Issue

def register_profile(structure_definition: dict) -> None:
    pass

def extension_urls() -> frozenset[str]:
    return frozenset()

def check(resource: dict, profiles: list[str] | None, extensions: list) -> list[Issue]:
    return []
