"""Start the stiqa web chat: ``python app.py`` -> http://127.0.0.1:7860

Settings come from ``STIQA_*`` environment variables (``STIQA_HOST``, ``STIQA_PORT``,
``STIQA_USERNAME``/``STIQA_PASSWORD``, ``STIQA_INDEX_DIR``, ...). The index is built first if
there is none. A host reachable from other machines requires a user name and password.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))


def main() -> int:
    from stiqa.config import load_settings

    try:
        settings = load_settings()
        from stiqa.web.app import check_launch, launch, url

        check_launch(settings)  # refuse an unsafe host before any slow work
        from stiqa.index.build import build_index, current_generation

        if current_generation(settings.index_dir) is None:
            print(f"索引がないため作成します（{settings.index_dir}）…", flush=True)
            print(build_index(settings).summary(), flush=True)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"stiqa: 起動できません: {exc}", file=sys.stderr)
        return 2
    print(f"stiqa を起動します: {url(settings)}", flush=True)
    launch(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
