"""Benchmarks behind ``harbridge bench <target>``: one module per target, tables in :mod:`.table`.

A target module exposes ``add_arguments(parser)`` and ``run(args) -> int`` and is registered
in :data:`harbridge.commands.bench.TARGETS`.
"""

__all__: list[str] = []
