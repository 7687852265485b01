"""dalecpy: compile Dalec-style build specs to BuildKit LLB."""

__version__ = "0.1.0"
