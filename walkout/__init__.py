"""walkout: just-walk-out retail from recorded shelf cameras and shelf weight sensors."""

__version__ = "0.1.0"
