"""``python -m langchain_tiered.testing``: serve the emulator until Ctrl-C."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from langchain_tiered.testing.emulator import serve


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(
        prog="python -m langchain_tiered.testing",
        description="Serve an OpenAI-compatible (and Anthropic /v1/messages) emulator for "
        "offline tests.",
    )
    parser.add_argument("--port", type=int, default=8000, help="TCP port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind")
    parser.add_argument(
        "--context-window",
        action="append",
        default=[],
        metavar="MODEL=TOKENS",
        help="reject longer prompts for MODEL with context_length_exceeded (repeatable)",
    )
    parser.add_argument(
        "--prompt-cache",
        action="store_true",
        help="report cached_tokens for repeated prompt prefixes (1,024+ tokens), as OpenAI does",
    )
    args = parser.parse_args(argv)
    windows: dict[str, int] = {}
    for item in args.context_window:
        model, _, tokens = item.rpartition("=")
        if not model or not tokens.isdigit():
            parser.error(f"--context-window expects MODEL=TOKENS, got {item!r}")
        windows[model] = int(tokens)
    serve(args.port, args.host, context_windows=windows, prompt_cache=args.prompt_cache)


if __name__ == "__main__":
    main()
