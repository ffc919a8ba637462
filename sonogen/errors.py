"""The one exception type for problems a user can fix."""


class SonogenError(Exception):
    """A problem with the user's input: names the file or option, what is wrong and what to do.

    The CLI prints the message on one line and exits with status 2, without a traceback.
    """
