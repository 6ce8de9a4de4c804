"""`stiqa` command line: ingest, ask, chat, eval, programs, status, serve, train.

Imports only what each command needs, so `stiqa ask` starts quickly. Errors are one clear line
on stderr and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import argparse
from pathlib import Path
import json
import os
import sys
from typing import Any
from stiqa.errors import CliError


def _settings(args: argparse.Namespace):
    from stiqa.config import load_settings

    return load_settings(corpus_dir=getattr(args, "corpus", None), index_dir=getattr(args, "index", None),
                         top_k=getattr(args, "k", None), embed_backend=getattr(args, "embed", None),
                         llm_url=getattr(args, "llm", None), llm_model=getattr(args, "model", None),
                         chroma_url=getattr(args, "chroma_url", None))


def _print_answer(ans: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(ans.to_json(), ensure_ascii=False))
        return
    if ans.interpretation:
        print(ans.interpretation)
    print(ans.text)
    for i, c in enumerate(ans.citations, 1):
        page = f" p.{c.page}" if c.page else ""
        section = " > ".join(c.section.split(" > ")[-2:])
        print(f"  [{i}] {c.source}{page} L{c.line_start}-{c.line_end} 〔{section}〕")
    if ans.abstained and ans.related:
        print("  近い箇所:")
        for c in ans.related:
            print(f"   - {c.source} L{c.line_start}-{c.line_end} 〔{c.section}〕")
    if ans.notice:
        print(f"  ※ {ans.notice}")


def cmd_ingest(args: argparse.Namespace) -> int:
    from stiqa.index.build import build_index

    settings = _settings(args)
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, desc="埋め込み", unit="chunk", file=sys.stderr)
        bar.update(done - bar.n)

    report = build_index(settings, force=args.rebuild, progress=progress)
    if bar is not None:
        bar.close()
    print(report.summary())
    if not report.noop:  # what the added or changed files change among the corpus's figures
        from stiqa.ledger.changes import ingest_report

        changes = ingest_report(settings.index_dir)
        if changes:
            print(changes)
    return 0


def _ensure_index(settings) -> None:
    from stiqa.index.build import current_generation

    if current_generation(settings.index_dir) is None:
        raise CliError(f"索引がありません（{settings.index_dir}）。先に `stiqa ingest` を実行してください。")


def cmd_ask(args: argparse.Namespace) -> int:
    from stiqa.chat.turns import check_question
    from stiqa.engine import get_assistant

    settings = _settings(args)
    # invalid UTF-8 on the command line arrives as lone surrogates: show it as U+FFFD, never crash
    question = " ".join(os.fsencode(q).decode("utf-8", "replace") for q in args.question)
    problem = check_question(question, settings.max_question_chars)
    if problem:
        raise CliError(problem)
    _ensure_index(settings)
    assistant = get_assistant(settings)
    ans = assistant.ask(question, history=args.history or [])
    _print_answer(ans, args.json)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from stiqa.engine import get_assistant

    settings = _settings(args)
    _ensure_index(settings)
    conv = get_assistant(settings).chat()
    print("stiqa チャット（終了は空行か Ctrl-D）")
    while True:
        try:
            line = input("質問> ")
        except EOFError:
            break
        if not line.strip():
            break
        _print_answer(conv.ask(line), False)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from stiqa.index.build import index_status

    print(json.dumps(index_status(_settings(args)), ensure_ascii=False, indent=1))
    return 0


def cmd_programs(args: argparse.Namespace) -> int:
    try:
        from stiqa.catalog.finder import programs_command
    except ImportError as exc:
        raise CliError(f"プログラム一覧は利用できません: {exc}") from exc
    settings = _settings(args)
    print(programs_command(settings.corpus_dir, args.situation, args.json))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from stiqa.evaluate.run import DEFAULT_QUESTIONS, run_cli

    rc = run_cli(_settings(args), args)
    if args.compare:  # questions whose expected figure the last ingest changed (ledger/changes.py)
        from stiqa.ledger.changes import eval_flags_text

        flags = eval_flags_text(_settings(args).index_dir, Path(args.questions or DEFAULT_QUESTIONS))
        if flags:
            print(flags)
    return rc


def cmd_feedback(args: argparse.Namespace) -> int:
    from stiqa.chat import feedback

    settings = _settings(args)
    items = feedback.load(settings.feedback_dir / "feedback.jsonl")
    if args.to_eval:
        drafts = feedback.to_eval(items)
        out = Path(args.to_eval)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in drafts), encoding="utf-8")
        print(f"👎 {len(drafts)} 件を評価用の下書きにしました: {out}（expect を記入してから eval に加えてください）")
        return 0
    print(feedback.summary(items))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from stiqa.http_api import check_serve, serve

    settings = _settings(args).with_overrides(host=args.host, api_port=args.port)
    problem = check_serve(settings)
    if problem:
        raise CliError(problem)
    _ensure_index(settings)
    serve(settings)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stiqa", description="STI 政策文書の質問応答（出典付き）")
    p.add_argument("--corpus", help="コーパスのフォルダ (STIQA_CORPUS_DIR)")
    p.add_argument("--index", help="索引のフォルダ (STIQA_INDEX_DIR)")
    p.add_argument("--embed", choices=["e5", "e5-c", "e5-torch", "hf"],
                   help="埋め込み: e5（既定）, e5-c（C エンジンのみ）, e5-torch, hf (STIQA_EMBED_BACKEND)")
    p.add_argument("--chroma-url", dest="chroma_url", help="Chroma サーバー (STIQA_CHROMA_URL)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="コーパスを索引にする（変更分のみ）")
    s.add_argument("--rebuild", action="store_true", help="すべて作り直す")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("ask", help="質問する")
    s.add_argument("question", nargs="+")
    s.add_argument("--json", action="store_true")
    s.add_argument("-k", type=int, help="引用候補の数")
    s.add_argument("--history", action="append", help="前の質問（複数可、古い順）")
    s.add_argument("--llm", help="OpenAI 互換 LLM の URL (STIQA_LLM_URL)")
    s.add_argument("--model", help="LLM のモデル名 (STIQA_LLM_MODEL)")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("chat", help="端末でチャットする")
    s.add_argument("--llm", help="OpenAI 互換 LLM の URL (STIQA_LLM_URL)")
    s.add_argument("--model", help="LLM のモデル名 (STIQA_LLM_MODEL)")
    s.set_defaults(func=cmd_chat)

    s = sub.add_parser("status", help="索引の状態")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("programs", help="事業の一覧・検索")
    s.add_argument("--for", dest="situation", help="状況（例: 博士課程 3か月 海外）")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_programs)

    s = sub.add_parser("eval", help="評価セットで回答精度を測る")
    s.add_argument("--questions", default=None, help="質問セット（JSONL、既定: eval/questions.jsonl）")
    s.add_argument("--out", default=None, help="回答ごとの結果を書き出す JSONL")
    s.add_argument("--compare", default=None, help="比べるベースライン（JSON）: 正解から不正解になった質問を表示")
    s.add_argument("--report", default=None, help="Markdown の報告書（種類別のグラフつき）の書き出し先")
    s.add_argument("--corpus", dest="set_corpus", default=None,
                   help="質問セット自身の文書（既定: 質問ファイルの隣の corpus/）。本体コーパスに加えて別の索引で評価")
    s.add_argument("--llm", help="OpenAI 互換 LLM の URL")
    s.add_argument("--model", help="--llm で使うモデル名")
    s.set_defaults(func=cmd_eval)

    from stiqa.ledger.command import add_parser as add_figures

    add_figures(sub)

    from stiqa.evaluate.train_cli import add_parser as add_train

    add_train(sub)

    s = sub.add_parser("feedback", help="チャットでの回答評価（👍/👎）を一覧する")
    s.add_argument("--to-eval", dest="to_eval", default=None, help="👎 の質問を評価用 JSONL の下書きとして書き出す")
    s.set_defaults(func=cmd_feedback)

    s = sub.add_parser("serve", help="OpenAI 互換の HTTP API（/v1/chat/completions）を起動")
    s.add_argument("--host", default=None, help="待ち受けるアドレス（既定 127.0.0.1）")
    s.add_argument("--port", type=int, default=None, help="ポート（既定 8000）")
    s.set_defaults(func=cmd_serve)

    return p


def main(argv: list[str] | None = None) -> int:
    from stiqa.ledger.command import fast_path  # `stiqa figures` reads one file: no answer stage imported

    if (fast := fast_path(argv)) is not None:
        return fast
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"stiqa: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `stiqa programs | head`
        return 0
    except (ValueError, FileNotFoundError, PermissionError, RuntimeError) as exc:
        print(f"stiqa: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
