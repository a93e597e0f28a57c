"""Packaging lives in pyproject.toml; kernels/ installs as idrs_fast.kernels."""
from setuptools import setup

setup()
