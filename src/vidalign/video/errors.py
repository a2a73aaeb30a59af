"""The error raised for any video that cannot be read, written or sampled."""

from vidalign.errors import VidalignError


class VideoError(VidalignError):
    """A video file is missing, empty, corrupt, has no frames, or cannot be sampled as asked.

    The message always starts with the path (when there is one) and says what was expected.
    """
