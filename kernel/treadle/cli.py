"""The ``treadle`` command."""

import click


@click.group()
def main() -> None:
    """Treadle."""
