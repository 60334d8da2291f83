"""`--config-dir DIR` (`-cd DIR`) puts DIR before optkit's own configs, so a user project's
groups and recipes sit beside optkit's and its options override optkit's of the same name.

Hydra itself adds `--config-dir` after the application's configs (before the structured
schemas), where an option of the same name is shadowed by the application's. This search
path plugin puts the directory first instead, for optkit only (a search path whose main
entry is `pkg://optkit.conf`; other Hydra apps in the environment are left alone). It reads
the directory from the command line, or, for tab completion (`-sc query=bash`), from the
line being completed (`COMP_LINE`), so completion offers the user's options too.
`hydra.searchpath=[file://DIR]` still appends (adds groups and options, overrides none).
"""
import os
import shlex
import sys
from typing import List, Optional

from hydra.core.config_search_path import ConfigSearchPath, SearchPathQuery
from hydra.plugins.search_path_plugin import SearchPathPlugin

OPTKIT_CONF = "pkg://optkit.conf"


def config_dir(argv: List[str]) -> Optional[str]:
    """The last `--config-dir`/`-cd` value of `argv` (`--config-dir=DIR` too), absolute."""
    found = None
    for i, arg in enumerate(argv):
        if arg in ("--config-dir", "-cd") and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith("--config-dir="):
            found = arg.partition("=")[2]
    return os.path.abspath(found) if found else None


class UserConfigDirFirst(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        if not any(e.path == OPTKIT_CONF for e in search_path.get_path()):
            return
        argv = sys.argv[1:]
        if "COMP_LINE" in os.environ and "-sc" in argv:
            argv = shlex.split(os.environ["COMP_LINE"])[1:]
        found = config_dir(argv)
        if found is not None and os.path.isdir(found):
            search_path.prepend("optkit-user", f"file://{found}", anchor=SearchPathQuery(provider="main"))
