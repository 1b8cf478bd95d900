"""Subcommands of the ``docrec`` command line, one module each (see :mod:`docrec.cli`)."""
