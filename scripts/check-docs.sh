#!/usr/bin/env bash
# Keeps the docs from rotting. Two checks, no server needed:
#
#  1. Every `dualwrite ...` command line quoted in a fenced code block of
#     README.md and docs/**/*.md must PARSE with the current CLI: its
#     subcommands, flags and the values their validators accept. Each is run
#     with DUALWRITE_PARSE_ONLY=1 (cli/main.cc), which parses and runs nothing.
#     Handled: `\` line continuations, `build*/cli/dualwrite` and `./` prefixes,
#     `VAR=value` prefixes, `$VAR` / `${VAR}` / `$(...)` (replaced by 1),
#     several commands joined by `&&`, `||`, `;` or `|`, and `# comments`.
#     Mermaid blocks are skipped. Commands in inline `code` are not checked:
#     tables quote synopses with placeholders there.
#  2. Every relative Markdown link `[text](path)` in docs/**/*.md and README.md
#     points at an existing file or folder.
#
# Usage: scripts/check-docs.sh [--binary PATH] [REPO_ROOT]
#   PATH defaults to $DUALWRITE_BIN, else build/cli/dualwrite.
# Prints one line per failure, FILE:LINE: command: error, and exits 1 if any.
set -uo pipefail

root=""
bin="${DUALWRITE_BIN:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) bin="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) root="$1"; shift ;;
  esac
done
root="${root:-$(cd "$(dirname "$0")/.." && pwd)}"
bin="${bin:-$root/build/cli/dualwrite}"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
if [ ! -x "$bin" ]; then
  echo "check-docs: no dualwrite binary at $bin (build it, or pass --binary PATH)" >&2
  exit 2
fi
cd "$root" || exit 2

files=(README.md)
while IFS= read -r f; do files+=("$f"); done < <(find docs -name '*.md' | sort)

failures=0
checked=0
fail() {  # FILE LINE COMMAND ERROR
  echo "$1:$2: $3: $4"
  failures=$((failures + 1))
}

# --- 1. commands ------------------------------------------------------------
# awk prints "FILE<TAB>LINE<TAB>command" for each command line of each fenced
# block (continuations joined, comments stripped, split at && || ; |).
extract() {
  awk -v file="$1" '
    function flush_cmd(text, ln,    i, c, q, out, n, parts, k, piece) {
      # Strip a comment: a # outside quotes that starts a word.
      q = ""; out = ""
      for (i = 1; i <= length(text); i++) {
        c = substr(text, i, 1)
        if (q == "" && (c == "\"" || c == "'\''")) q = c
        else if (q != "" && c == q) q = ""
        else if (q == "" && c == "#" && (i == 1 || substr(text, i - 1, 1) ~ /[ \t]/)) break
        out = out c
      }
      # Split into commands at && || ; | outside quotes.
      n = 0; piece = ""; q = ""
      for (i = 1; i <= length(out); i++) {
        c = substr(out, i, 1)
        if (q == "" && (c == "\"" || c == "'\''")) q = c
        else if (q != "" && c == q) q = ""
        if (q == "" && (c == ";" || c == "|" || (c == "&" && substr(out, i + 1, 1) == "&"))) {
          parts[++n] = piece; piece = ""
          if (substr(out, i + 1, 1) == c) i++
          continue
        }
        piece = piece c
      }
      parts[++n] = piece
      for (k = 1; k <= n; k++) {
        piece = parts[k]
        sub(/^[ \t]*(\$[ \t]+)?/, "", piece)
        sub(/[ \t]+$/, "", piece)
        if (piece != "") printf "%s\t%d\t%s\n", file, ln, piece
      }
    }
    /^[ \t]*```/ {
      if (!inblock) { inblock = 1; skip = ($0 ~ /```[ \t]*mermaid/) }
      else { inblock = 0 }
      next
    }
    inblock && !skip {
      line = $0
      if (pending != "") { text = pending " " line } else { text = line; start = NR }
      if (text ~ /\\[ \t]*$/) { sub(/\\[ \t]*$/, "", text); pending = text; next }
      pending = ""
      flush_cmd(text, start)
    }
  ' "$1"
}

# Words of a command line, as the shell would split them, without running
# anything: substitutions are replaced by 1 first.
split_words() {
  local s="$1"
  s="$(printf '%s' "$s" | sed -E 's/\$\([^)]*\)/1/g; s/`[^`]*`/1/g; s/\$\{[A-Za-z_][A-Za-z0-9_]*\}/1/g; s/\$[A-Za-z_][A-Za-z0-9_]*/1/g')"
  # Redirections are not arguments.
  s="$(printf '%s' "$s" | sed -E 's/[0-9]?>>?[ ]*[^ ]+//g; s/<[ ]*[^ ]+//g')"
  eval "words=( $s )" 2>/dev/null
}

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

for f in "${files[@]}"; do
  while IFS=$'\t' read -r file line cmd; do
    words=()
    if ! split_words "$cmd"; then
      continue
    fi
    # Drop VAR=value prefixes and `env`.
    while [ ${#words[@]} -gt 0 ] && { [[ "${words[0]}" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || [ "${words[0]}" = env ]; }; do
      words=("${words[@]:1}")
    done
    [ ${#words[@]} -gt 0 ] || continue
    case "${words[0]}" in
      dualwrite | */cli/dualwrite | cli/dualwrite) ;;
      *) continue ;;
    esac
    checked=$((checked + 1))
    # In a scratch folder: a relative path in the command names nothing real.
    err="$(cd "$scratch" && DUALWRITE_PARSE_ONLY=1 "$bin" "${words[@]:1}" 2>&1 >/dev/null)"
    rc=$?
    if [ $rc -ne 0 ]; then
      fail "$file" "$line" "$cmd" "$(printf '%s' "$err" | grep -v '^Run with --help' | head -n 1) (exit $rc)"
    fi
  done < <(extract "$f")
done

# --- 2. links ---------------------------------------------------------------
links=0
for f in "${files[@]}"; do
  dir="$(dirname "$f")"
  # [text](target) outside code spans; targets without a scheme or a leading #.
  while IFS=: read -r line target; do
    target="${target%%#*}"
    [ -n "$target" ] || continue
    links=$((links + 1))
    if [ ! -e "$dir/$target" ]; then
      fail "$f" "$line" "[...]($target)" "link target does not exist"
    fi
  done < <(awk '
      /^[ \t]*```/ { inblock = !inblock; next }
      inblock { next }
      {
        s = $0
        gsub(/`[^`]*`/, "", s)
        while (match(s, /\]\([^) \t]+\)/)) {
          t = substr(s, RSTART + 2, RLENGTH - 3)
          s = substr(s, RSTART + RLENGTH)
          if (t ~ /^[a-z]+:/ || t ~ /^#/) continue
          print NR ":" t
        }
      }' "$f")
done

echo "check-docs: $checked commands, $links relative links in ${#files[@]} files; $failures failures" >&2
[ $failures -eq 0 ]
