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


class PatternError(K2PError):
    """The layers after the motif conv break the MLE's assumption (conv -> non-decreasing
    activation -> global or local max-pool) and the caller asked for ``strict``. Callers add
    their own remedy: the CLI names ``--base`` and ``--strict``, the callback ``base=`` and ``strict=``.
    """


class OptionError(K2PError):
    """An option (a parameter of :func:`k2p_keras.extract`) has a value it cannot take.

    ``option`` is the parameter's Python name; the CLI shows it as ``--option-name``.
    """

    def __init__(self, message, option):
        super().__init__(f"{option}: {message}")
        self.option = option
        self.detail = str(message)
