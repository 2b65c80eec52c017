# Sourced by the bench scripts that charge CPU to the parties of an embedded
# environment (cpu_per_op.sh, es_projector.sh); not run on its own.
#
# env_cpu_init NAME: reads `$DW env --json` of $DUALWRITE_STATE_DIR into
# env_json, pm_pid (the postmaster) and br_pid (the broker), or exits 1 with
# one line naming NAME. Then:
#   ticks PID [all]  utime+stime of a process in clock ticks (+ the children
#                    it has reaped with "all");
#   pg_ticks         the whole cluster's: the postmaster, the children it
#                    reaped (exited backends) and each live child;
#   hz               ticks per second.

ticks() { awk -v all="${2:-}" '{ t = $14 + $15; if (all == "all") t += $16 + $17; print t }' "/proc/$1/stat"; }

pg_ticks() {
  local s; s=$(ticks "$pm_pid" all)
  for p in $(pgrep -P "$pm_pid"); do s=$((s + $(ticks "$p" 2>/dev/null || echo 0))); done
  echo "$s"
}

env_cpu_init() {
  env_json="$("$DW" env --json 2>/dev/null)" || { echo "$1: no embedded environment (run dualwrite up)" >&2; exit 1; }
  env_cpu_num() { grep -o "\"$1\": *[0-9]*" <<<"$env_json" | head -1 | grep -o '[0-9]*$'; }
  pm_pid="$(env_cpu_num postgres_pid)"
  br_pid="$(env_cpu_num broker_pid)"
  # A state folder with nothing running reports pid 0 for both.
  [[ "${pm_pid:-0}" != 0 && "${br_pid:-0}" != 0 ]] || { echo "$1: postgres or the broker is not running in that environment (run dualwrite up)" >&2; exit 1; }
  hz=$(getconf CLK_TCK)
}
