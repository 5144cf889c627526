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
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks instead of one-line errors."),
) -> None:
    if debug:
        os.environ["MSFDIFF_DEBUG"] = "1"


def _register() -> None:
    from msfdiff.cli import unmix

    unmix.register(app)
    for name in ("diffusion", "evaluate", "pipeline"):
        try:
            module = __import__(f"msfdiff.cli.{name}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"msfdiff.cli.{name}":
                raise
            continue
        module.register(app)


_register()


def main() -> None:
    """Console-script entry: run the app; MsfdiffError and OS errors become ``error: …``."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
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
    except Exception as exc:  # click usage errors carry their own exit codes
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if debug_enabled():
            raise
        fail(f"internal error {type(exc).__name__}: {exc} (rerun with --debug and report it)")


if __name__ == "__main__":
    main()
