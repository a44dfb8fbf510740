"""Read transaction files into segwork's canonical, validated, cleaned table (a package; see its modules)."""
from . import text as _text
from .text import *  # noqa: F401,F403
from .text import __all__, check_encoding_against_bom  # noqa: F401

# the names other segwork modules still import (made public in the next step of the split)
_RULE_TEXT = _text._RULE_TEXT
_detect_layout = _text._detect_layout
_format_example = _text._format_example
_apply_layout = _text._apply_layout
_check_duplicate_columns = _text._check_duplicate_columns
_read_file = _text._read_file
_parse_dates = _text._parse_dates
_text_lines = _text._text_lines
