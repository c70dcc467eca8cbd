"""Execution engines: where SQL runs. One small module per engine, one contract in ``base``."""

from sluice.engines.base import Column, DataRef, Engine, TypeFamily, create_engine

__all__ = ["Column", "DataRef", "Engine", "TypeFamily", "create_engine"]
