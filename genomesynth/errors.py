"""The one exception users see: the CLI prints it as a single line and exits with code 2."""


class GenomesynthError(Exception):
    """Bad input or an impossible request: the message says what, where, and what to do."""
