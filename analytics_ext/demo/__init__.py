"""Deterministic, offline retail demo data for notebooks, dashboards and tests."""

from analytics_ext.demo.retail import (
    DEFAULT_SEED,
    DemoDataFiles,
    default_demo_dir,
    write_demo_data,
)

__all__ = ["DEFAULT_SEED", "DemoDataFiles", "default_demo_dir", "write_demo_data"]
