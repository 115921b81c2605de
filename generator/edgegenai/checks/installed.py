"""A layer file as it looks once its recipe installed it on the device.

Files under a recipe's `files/` carry placeholders (`@BINDIR@`) that the
recipe's `do_install` replaces with `sed -e 's,@BINDIR@,${bindir},g'`.
Tools that check units and scripts must see the installed text, so the
substitutions are read from the recipe itself (not repeated here) and the
OE path variables are expanded to their default values.  Substitution
never adds or removes lines, so line numbers still point into the layer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List

from ..oepaths import expand

# The form the layer's recipes use: sed -e 's,@NAME@,${var},g'
SED = re.compile(r"s,@(\w+)@,([^,]*),g")
PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")


def substitutions(recipe_dir: Path) -> Dict[str, str]:
    """Placeholder -> installed value, from the sed calls of the recipes in `recipe_dir`."""
    subs: Dict[str, str] = {}
    for recipe in sorted(recipe_dir.glob("*.bb")) + sorted(recipe_dir.glob("*.bbappend")) + \
            sorted(recipe_dir.glob("*.inc")):
        text = recipe.read_text("utf-8", "replace")
        for name, value in SED.findall(text):
            subs[name] = expand(value)
    return subs


def recipe_dir_of(path: Path) -> Path:
    """`recipes-x/pn/files/f` (or `recipes-x/pn/pn/f`) belongs to the recipes in `recipes-x/pn/`."""
    return path.parent.parent


def installed_text(path: Path) -> str:
    text = path.read_text("utf-8", "replace")
    subs = substitutions(recipe_dir_of(path))
    return PLACEHOLDER.sub(lambda m: subs.get(m.group(1), m.group(0)), text)


def leftover_placeholders(text: str) -> List[str]:
    return sorted(set(PLACEHOLDER.findall(text)))
