"""The error raised for any video that cannot be read, written or sampled."""

from vidalign.errors import VidalignError


class VideoError(VidalignError):
    """A video file is missing, empty, corrupt, has no frames, or cannot be sampled as asked.

    The message always starts with the path (when there is one) and says what was expected.
    """


def ffmpeg_reason(err: Exception) -> str:
    """What a PyAV error says, without the file name it repeats (the message already starts
    with the path): ``Invalid data found when processing input``."""
    return getattr(err, "strerror", None) or str(err)
