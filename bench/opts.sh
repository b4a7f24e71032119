# bench/opts.sh, sourced by bench/floor.sh and bench/resume.sh: their options and their
# medians. The sourcing script sets top (the source tree) first.

# bench_usage SCRIPT [STATUS]: SCRIPT's header comment (its usage), then exit STATUS (2)
bench_usage() {
  awk 'NR > 1 && !/^#/ { exit } NR > 1' "$1" | sed 's/^# \{0,1\}//'
  exit "${2:-2}"
}

# bench_opts SCRIPT ARGS...: --size (default 1G), --reps (3), --build (CNIO_BUILD_DIR, else
# _build beside the sources) and --help into size, reps and build
bench_opts() {
  local script=$1; shift
  size=1G reps=3 build=${CNIO_BUILD_DIR:-$top/_build}
  while [ $# -gt 0 ]; do
    case $1 in
      --size) size=$2; shift ;;
      --reps) reps=$2; shift ;;
      --build) build=$2; shift ;;
      -h|--help) bench_usage "$script" 0 ;;
      *) echo "${script##*/}: unknown argument $1" >&2; bench_usage "$script" ;;
    esac
    shift
  done
}

# bench_stats "WORDS": their median, min and max
bench_stats() {
  tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g |
    awk '{ v[NR] = $1 }
         END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
               printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}
