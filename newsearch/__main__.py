"""``python -m newsearch`` runs the command-line interface."""

from .cli import main

main()
