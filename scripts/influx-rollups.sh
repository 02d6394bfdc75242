#!/usr/bin/env bash
# Installs the roll-up recipe (dashboards/influxdb/rollups.iql: retention policies analytics_1h
# and analytics_1d, and the continuous queries that fill them) into an InfluxDB 1.x database,
# through its HTTP /query API. Running it again is harmless: it brings the database to the
# recipe as it is now.
#
#   scripts/influx-rollups.sh <influx-url> <db> [rp] [--backfill <n>d|<n>h] [--print]
#
#   <influx-url>   e.g. http://127.0.0.1:8086 (INFLUX_USERNAME / INFLUX_PASSWORD for basic auth)
#   <db>           the database the module writes to
#   [rp]           the retention policy holding the raw points; default: the database's default
#   --backfill 30d also rolls up what is already stored, from midnight (UTC) 30 days ago until
#                  now: each continuous query's own SELECT ... INTO, run with an explicit time
#                  range, one day at a time (the hourly roll-ups of a day before its daily one).
#                  Continuous queries only cover the last hours; run this after installing the
#                  recipe on a database that already has data, or after an outage longer than
#                  6 hours. Running it twice writes the same sums again.
#   --print        prints the statements instead of running them (nothing is sent).
set -euo pipefail

usage() {
    echo "usage: $0 <influx-url> <db> [rp] [--backfill <n>d|<n>h] [--print]" >&2
    sed -n '8,19p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

recipe="$(dirname "$0")/../dashboards/influxdb/rollups.iql"
url="" db="" rp="" backfill="" print=0
while (($#)); do
    case "$1" in
        --backfill) (($# >= 2)) || usage; backfill=$2; shift 2 ;;
        --backfill=*) backfill=${1#*=}; shift ;;
        --print) print=1; shift ;;
        -h|--help) usage ;;
        -*) echo "unknown option: $1" >&2; usage ;;
        *)
            if [[ -z $url ]]; then url=${1%/}
            elif [[ -z $db ]]; then db=$1
            elif [[ -z $rp ]]; then rp=$1
            else usage; fi
            shift ;;
    esac
done
[[ -n $url && -n $db ]] || usage

# Names are written between double quotes in InfluxQL: refuse what would break out of them.
for name in "$db" "$rp"; do
    if [[ $name == *[\"\\]* || $name =~ [[:cntrl:]] ]]; then
        echo "influx-rollups: a database or retention policy name may not hold \" or \\: $name" >&2
        exit 2
    fi
done
backfill_seconds=0
if [[ -n $backfill ]]; then
    if [[ $backfill =~ ^([0-9]+)d$ ]]; then backfill_seconds=$((BASH_REMATCH[1] * 86400))
    elif [[ $backfill =~ ^([0-9]+)h$ ]]; then backfill_seconds=$((BASH_REMATCH[1] * 3600))
    else
        echo "influx-rollups: --backfill takes a number of days or hours (30d, 12h): $backfill" >&2
        exit 2
    fi
fi

auth=()
[[ -z ${INFLUX_USERNAME:-} ]] || auth=(-u "$INFLUX_USERNAME:${INFLUX_PASSWORD:-}")

# POSTs one statement to /query; prints the answer's body, then its status on a line of its own.
request() {
    curl -sS "${auth[@]}" -w '\n%{http_code}' -X POST "$url/query" \
        --data-urlencode "db=$db" --data-urlencode "q=$1" || {
        echo "influx-rollups: cannot reach $url/query" >&2
        exit 1
    }
}

# Runs one statement; prints InfluxDB's error and fails unless it is the one error allowed
# ($2, a text the error must contain).
run() {
    local statement=$1 allowed=${2:-} reply status
    if ((print)); then
        printf '%s;\n' "$statement"
        return
    fi
    reply=$(request "$statement")
    status=${reply##*$'\n'}
    reply=${reply%$'\n'*}
    if [[ $status != 2* || $reply == *'"error":"'* ]]; then
        if [[ -n $allowed && $reply == *"$allowed"* ]]; then
            return
        fi
        printf 'influx-rollups: InfluxDB answered %s to:\n  %s\n  %s\n' "$status" "$statement" "$reply" >&2
        exit 1
    fi
}

if [[ -z $rp ]]; then
    if ((print)); then
        echo "influx-rollups: --print needs the raw retention policy named (autogen, usually)" >&2
        exit 2
    fi
    # The database's default retention policy: the row of SHOW RETENTION POLICIES whose last
    # column ("default") is true.
    reply=$(request "SHOW RETENTION POLICIES ON \"$db\"")
    rp=$(grep -o '\["[^"]*","[^"]*","[^"]*",[0-9]*,true\]' <<< "$reply" | head -n 1 | cut -d'"' -f2 || true)
    if [[ -z $rp ]]; then
        echo "influx-rollups: no default retention policy found for database \"$db\": $reply" >&2
        exit 1
    fi
fi

# The recipe as statements, one per line: comments dropped, each statement's lines joined, runs
# of blanks squeezed, placeholders filled in.
statements=()
current=""
while IFS= read -r line || [[ -n $line ]]; do
    [[ $line =~ ^[[:space:]]*(--|$) ]] && continue
    current+=" $line"
    if [[ $line =~ \;[[:space:]]*$ ]]; then
        current=$(tr -s '[:space:]' ' ' <<< "$current")
        current=${current# }
        current=${current%;*}
        current=${current//<db>/$db}
        current=${current//<rp>/$rp}
        statements+=("$current")
        current=""
    fi
done < "$recipe"
[[ -z ${current// /} ]] || { echo "influx-rollups: the recipe ends without \";\"" >&2; exit 1; }

for statement in "${statements[@]}"; do
    case "$statement" in
        "CREATE RETENTION POLICY "*) run "$statement" "retention policy already exists" ;;
        *) run "$statement" ;;
    esac
done
((print)) || echo "influx-rollups: roll-ups installed on database \"$db\" (raw data in \"$rp\")"
((backfill_seconds > 0)) || exit 0

# The body of a continuous query (its SELECT ... INTO ... GROUP BY time(...), ...) with a time
# range added to its outermost WHERE clause (or as one).
with_time_range() {
    local body=$1 range=$2 head tail condition opens closes
    head=${body% GROUP BY time(*}
    tail=${body#"$head"}
    # The last " WHERE " is the outermost query's when the text after it closes every parenthesis
    # it opens (a condition such as ("a" != '' OR "b" != '')); otherwise it belongs to a subquery
    # that the outermost query reads, and the outermost one has none.
    condition=${head##* WHERE }
    opens=${condition//[^(]/}
    closes=${condition//[^)]/}
    if [[ $condition != "$head" && ${#opens} == "${#closes}" ]]; then
        printf '%s WHERE %s AND (%s)%s' "${head% WHERE *}" "$range" "$condition" "$tail"
    else
        printf '%s WHERE %s%s' "$head" "$range" "$tail"
    fi
}
hourly=() daily=()
for statement in "${statements[@]}"; do
    [[ $statement == "CREATE CONTINUOUS QUERY "* ]] || continue
    body=${statement#* BEGIN }
    body=${body% END}
    case "$body" in
        *"GROUP BY time(1h)"*) hourly+=("$body") ;;
        *"GROUP BY time(1d)"*) daily+=("$body") ;;
        *) echo "influx-rollups: a continuous query groups neither by 1h nor by 1d: $body" >&2; exit 1 ;;
    esac
done

now=$(date -u +%s)
first_day=$(((now - backfill_seconds) / 86400 * 86400))
day=$first_day
days=0
while ((day <= now)); do
    from=$(date -u -d "@$day" +%Y-%m-%dT%H:%M:%SZ)
    until=$(date -u -d "@$((day + 86400))" +%Y-%m-%dT%H:%M:%SZ)
    range="time >= '$from' AND time < '$until'"
    for body in "${hourly[@]}" "${daily[@]}"; do
        run "$(with_time_range "$body" "$range")"
    done
    day=$((day + 86400))
    days=$((days + 1))
done
((print)) || echo "influx-rollups: back-filled $days day(s), $(date -u -d "@$first_day" +%Y-%m-%d) to today (UTC)"
