"""Write vnet(1), the man page, from the command's own argparse parser (vnet.cli.build_parser):
every command, alias, argument and option, with the help text `vnet COMMAND --help` shows.

    .venv/bin/python scripts/gen_man.py            # writes man/vnet.1
    .venv/bin/python scripts/gen_man.py --stdout   # prints it
    man -l man/vnet.1                              # reads it

tests/unit/test_manpage.py fails while man/vnet.1 differs from what this prints: after a change
to a command's words, run the first line above and commit man/vnet.1 with the change.

The output depends on nothing but the parser (no date, no terminal width), so it is the same on
every machine. Sections the parser cannot tell (exit status, files, environment) are written
here.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "man" / "vnet.1"

#: the parts of the page that are not in the parser
EXIT_STATUS = [
    ("0", "success; for \\fBplan\\fR, nothing to change; for \\fBcheck\\fR, every check "
          "passed"),
    ("1", "an error (an invalid file, a conflict, a refusal of the kernel, which is undone), "
          "or a check that failed"),
    ("2", "\\fBplan\\fR only: there are changes to make"),
]
EXIT_EXEC = "\\fBvnet exec\\fR exits with the status of the command it ran."
FILES = [
    ("/run/vnet/\\fINAME\\fR.json", "what topology \\fINAME\\fR changed on objects it does not "
                                   "own (a record; /run is a tmpfs: it lasts as long as the "
                                   "kernel state it describes)"),
    ("/run/vnet/lock", "held while a vnet changes the kernel: one at a time"),
    ("/run/netns/\\fINAME\\fR", "the named network namespaces, as \\fBip netns\\fR keeps them"),
]
ENVIRONMENT = [("NO_COLOR", "when set, plans are printed without colour on a terminal too")]
SEE_ALSO = "\\fBip\\fR(8), \\fBip-link\\fR(8), \\fBip-netns\\fR(8), \\fBbridge\\fR(8)"


def roff(text: str) -> str:
    """Text for a roff line: backslashes escaped, anything beyond ASCII as a \\[uXXXX]
    escape (groff reads its input as Latin-1), and a leading . or ' made harmless."""
    text = text.replace("\\", "\\e")
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    return "\\&" + text if text[:1] in (".", "'") else text


def dashes(text: str) -> str:
    """An option or a usage line: its hyphens are minus signs (so it can be copied)."""
    return roff(text).replace("-", "\\-")


def usage(parser: argparse.ArgumentParser) -> str:
    """The one-line usage, as `--help` gives it, whatever the terminal's width."""
    formatter = argparse.HelpFormatter(parser.prog, width=10_000)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups,
                        prefix="")
    return " ".join(formatter.format_help().split())


def expand_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=10_000)
    return " ".join(formatter._expand_help(action).split())


def option_items(parser: argparse.ArgumentParser, with_help: bool = True) -> list[str]:
    """.TP items for the arguments and options of one parser that have help (-h/--help only
    `with_help`: said once, for vnet itself)."""
    out = []
    for action in parser._actions:
        if action.help in (None, argparse.SUPPRESS) or isinstance(
                action, argparse._SubParsersAction) or (
                isinstance(action, argparse._HelpAction) and not with_help):
            continue
        metavar = action.metavar if isinstance(action.metavar, str) else None
        if action.option_strings:
            names = ", ".join(f"\\fB{dashes(o)}\\fR" for o in action.option_strings)
            if action.nargs != 0:
                shown = metavar or (action.dest.upper() if action.choices is None
                                    else "{" + ",".join(map(str, action.choices)) + "}")
                names += f" \\fI{dashes(shown)}\\fR"
        else:
            names = f"\\fI{dashes(metavar or action.dest)}\\fR"
        out += [".TP", names, roff(expand_help(parser, action))]
    return out


def commands(parser: argparse.ArgumentParser
             ) -> list[tuple[str, list[str], argparse.ArgumentParser, str]]:
    """(name, aliases, parser, help) of each command `--help` lists, in its order."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = []
    for choice in sub._get_subactions():  # only commands added with help=: not the hidden
        # its metavar is "apply (up)" when it has aliases
        shown = choice.metavar if isinstance(choice.metavar, str) else choice.dest
        name, _, rest = shown.partition(" ")
        aliases = re.findall(r"[\w-]+", rest)
        out.append((name, aliases, sub.choices[name], choice.help or ""))
    return out


def epilog_sections(epilog: str | None) -> tuple[list[str], list[str]]:
    """The parser's epilog as roff: (its examples as .TP items, its other paragraphs)."""
    examples: list[str] = []
    notes: list[str] = []
    paragraph: list[str] = []
    for line in [*(epilog or "").splitlines(), ""]:
        if line.strip() and not line.startswith("  "):
            if line.strip().rstrip(":").lower() != "examples":
                paragraph.append(line.strip())
            continue
        if paragraph:  # a paragraph ends at a blank line or an example
            notes.append(roff(" ".join(paragraph)))
            paragraph = []
        if line.strip():
            command, _, words = line.strip().partition("  ")
            examples += [".TP", f"\\fB{dashes(command.strip())}\\fR"]
            if words.strip():
                examples.append(roff(words.strip()))
    return examples, notes


def page(parser: argparse.ArgumentParser, version: str) -> str:
    lines = [
        '.\\" Generated by scripts/gen_man.py from vnet\'s argparse parser: do not edit.',
        f'.TH VNET 1 "" "vnet {version}" "User Commands"',
        ".SH NAME",
        "vnet \\- one YAML file to Linux virtual networks",
        ".SH SYNOPSIS",
        ".B vnet",
        "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]",
        ".SH DESCRIPTION",
        roff(parser.description or ""),
        ".PP",
        roff("vnet reads one topology file (its format: `vnet schema`, and the README), plans "
             "what the kernel must change to match it, and applies that over netlink, all or "
             "nothing; it shows what is live, proves the file's checks with real packets, and "
             "destroys exactly what it created."),
    ]
    _, notes = epilog_sections(parser.epilog)
    for note in notes:
        lines += [".PP", note]
    top = option_items(parser)
    top += [".PP", "Each command takes \\fB\\-h\\fR, \\fB\\-\\-help\\fR too."]
    if top:
        lines += [".SH OPTIONS", *top]
    lines.append(".SH COMMANDS")
    for name, aliases, sub, help_ in commands(parser):
        lines += [f".SS {name}", ".B", dashes(usage(sub))]
        text = sub.description or help_
        if aliases:
            text += f" (also: {', '.join(aliases)})"
        lines += [".PP", roff(text), *option_items(sub, with_help=False)]
    examples, _ = epilog_sections(parser.epilog)
    if examples:
        lines += [".SH EXAMPLES", *examples]
    lines.append(".SH EXIT STATUS")
    for code, words in EXIT_STATUS:
        lines += [".TP", f"\\fB{code}\\fR", words]
    lines += [".PP", EXIT_EXEC, ".SH FILES"]
    for path, words in FILES:
        lines += [".TP", path, words]
    lines.append(".SH ENVIRONMENT")
    for var, words in ENVIRONMENT:
        lines += [".TP", f"\\fB{var}\\fR", words]
    lines += [".SH SEE ALSO", SEE_ALSO]
    return "\n".join(lines) + "\n"


def generate() -> str:
    """The page as the current parser gives it."""
    sys.path.insert(0, str(ROOT / "src"))
    try:
        from vnet import __version__
        from vnet.cli import build_parser
    finally:
        sys.path.pop(0)
    return page(build_parser(), __version__)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="write man/vnet.1 from vnet's parser")
    ap.add_argument("--stdout", action="store_true", help="print the page instead")
    args = ap.parse_args(argv)
    text = generate()
    if args.stdout:
        sys.stdout.write(text)
    else:
        PAGE.parent.mkdir(exist_ok=True)
        PAGE.write_text(text, encoding="utf-8")
        print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
