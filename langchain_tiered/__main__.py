"""``python -m langchain_tiered``: the ``langchain-tiered`` command line."""

from langchain_tiered.cli import main

if __name__ == "__main__":
    main()
