"""``python -m trilink`` runs the command line."""

from trilink.cli import main

main()
