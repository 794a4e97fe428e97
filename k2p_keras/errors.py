"""The one exception type that user-facing code turns into a one-line error."""


class K2PError(Exception):
    """A problem with the user's input (a file, an option, a model).

    Parameters
    ----------
    message : str
        What is wrong, in one line, saying what was expected and what was found.
    path : str or os.PathLike, optional
        The file the problem is in; it leads the message when given.
    """

    def __init__(self, message, path=None):
        super().__init__(message)
        self.message = str(message)
        self.path = None if path is None else str(path)

    def __str__(self):
        return f"{self.path}: {self.message}" if self.path else self.message
