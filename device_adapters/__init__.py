"""Sans-I/O device protocol codecs: bytes in, typed events out; commands and replies out."""
