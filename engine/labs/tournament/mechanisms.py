"""The digits' frame and the mechanisms' names, torch-free: config.py reads them, so reading the lab's `space`
imports neither torch nor scikit-learn. data.py applies the mechanisms."""

from __future__ import annotations

DIGIT_SIZE = 16
TRANSLATIONS = {
    "N": (-1, 0),
    "NE": (-1, 1),
    "E": (0, 1),
    "SE": (1, 1),
    "S": (1, 0),
    "SW": (1, -1),
    "W": (0, -1),
    "NW": (-1, -1),
}  # compass direction -> (rows, columns) the content moves, in shifts
MECHANISMS = (*TRANSLATIONS, "invert", "noise")


def parse_classes(text: str) -> tuple[int, ...]:
    """'8,9' -> (8, 9): the digit classes held out of training. Raises ValueError unless 1 to 8 distinct digits."""
    try:
        classes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{text!r}: list digits 0-9, e.g. 8,9") from None
    if not 1 <= len(classes) <= 8 or len(set(classes)) != len(classes) or not all(0 <= c <= 9 for c in classes):
        raise ValueError(f"{text!r}: list 1 to 8 distinct digits 0-9 (at least two classes must stay to train on)")
    return classes


def parse_mechanisms(text: str) -> list[str]:
    """'N,E,invert' -> ['N', 'E', 'invert']; 'all' -> every mechanism. Raises ValueError on an unknown name."""
    if text.strip() == "all":
        return list(MECHANISMS)
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in MECHANISMS]
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(f"{text!r}: list distinct mechanisms from {', '.join(MECHANISMS)}, or 'all'")
    return names
