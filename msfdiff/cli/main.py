"""``msfdiff`` entry point: registers the command groups and turns errors into one line."""

from __future__ import annotations

import os
import sys
import warnings

import typer

from msfdiff.cli._common import debug_enabled, fail
from msfdiff.errors import MsfdiffError

app = typer.Typer(
    name="msfdiff",
    help="Synthesise hyperspectral images: scene-based unmixing → abundance diffusion → fusion.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", help="Show full tracebacks instead of one-line errors."
    ),
) -> None:
    if debug:
        os.environ["MSFDIFF_DEBUG"] = "1"


COMMAND_MODULES = (
    "msfdiff.cli.unmix",
    "msfdiff.cli.diffusion",
    "msfdiff.cli.evaluate",
    "msfdiff.cli.pipeline",
    "msfdiff.cli.report",
)


def _register() -> None:
    """Each command module adds its commands; imports inside commands keep start-up fast."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    from msfdiff.cli._common import console

    console.print(f"[bold yellow]WARNING:[/] {message}", highlight=False, soft_wrap=True)


def main() -> None:
    """Console-script entry: run the app; MsfdiffError and OS errors become ``error: …``."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.showwarning = _show_warning
    try:
        app(standalone_mode=False)
    except MsfdiffError as exc:
        if debug_enabled():
            raise
        fail(str(exc))
    except (OSError, ValueError, RuntimeError) as exc:
        if debug_enabled():
            raise
        fail(f"{type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
    except KeyboardInterrupt:
        fail("interrupted; rerun the same command with --resume to continue", code=130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        fail("aborted", code=130)
    except Exception as exc:
        # usage errors (click's, or the copy of click that typer >= 0.26 vendors) show
        # themselves and carry their own exit code
        if any(cls.__name__ == "ClickException" for cls in type(exc).__mro__):
            exc.show()
            sys.exit(exc.exit_code)
        if debug_enabled():
            raise
        fail(f"internal error {type(exc).__name__}: {exc} (rerun with --debug and report it)")


if __name__ == "__main__":
    main()
