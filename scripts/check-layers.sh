#!/usr/bin/env bash
# Checks the include rules of scripts/layers.txt: every quoted #include in
# the folders it names must resolve to a folder that the including folder may
# use, no two folders may include each other through any chain (a circle),
# and every folder under lib/ and transports/ must have a rule.
#
#   scripts/check-layers.sh [SOURCE_DIR [RULES_FILE]]
#
# Prints every violation as "file:line: ..." with the rule it breaks, then
# every circle. Exit 0 clean, 1 violations, 2 usage errors. Plain bash, grep,
# awk and sed.
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
rules=${2:-$src/scripts/layers.txt}
[[ -d "$src/lib" && -f "$rules" ]] || { echo "usage: $0 [SOURCE_DIR [RULES_FILE]]" >&2; exit 2; }
cd "$src"

declare -A allowed=()
folders=()
while IFS= read -r line; do
  line=${line%%#*}
  [[ "$line" =~ ^[[:space:]]*$ ]] && continue
  if [[ ! "$line" =~ ^[[:space:]]*([^:[:space:]]+):(.*)$ ]]; then
    echo "$rules: cannot read rule '$line' (expected 'folder: allowed folders')" >&2
    exit 2
  fi
  folder=${BASH_REMATCH[1]}
  read -r -a deps <<<"${BASH_REMATCH[2]}"
  [[ -d "$folder" ]] || { echo "$rules: no folder $folder" >&2; exit 2; }
  folders+=("$folder")
  allowed[$folder]=" ${deps[*]} "
done <"$rules"

violations=0
checked=0
edges=""
violation() { echo "$*"; violations=$((violations + 1)); }

# Folders without a rule
for d in lib/*/ transports/*/; do
  d=${d%/}
  [[ -n "${allowed[$d]+x}" ]] || violation "$d: no rule in $rules"
done

# Resolves a quoted include as the compiler does (-Ilib -Itransports -Iinclude):
# sets target to the folder of the file it finds, or to nothing.
resolve() {
  local from_dir=$1 inc=$2 root path
  target=""
  for root in "$from_dir" lib transports include; do
    [[ -f "$root/$inc" ]] || continue
    path="$root/$inc"
    path=${path%/*}
    # "lib/util/../comm" is lib/comm
    while [[ "$path" =~ ^(.*/)?[^/.][^/]*/\.\.(/(.*))?$ ]]; do
      path="${BASH_REMATCH[1]}${BASH_REMATCH[3]}"
      path=${path%/}
    done
    target=${path:-.}
    return
  done
}

for folder in "${folders[@]}"; do
  while IFS= read -r hit; do
    [[ -z "$hit" ]] && continue
    file=${hit%%:*}
    rest=${hit#*:}
    lineno=${rest%%:*}
    [[ "$rest" =~ \"([^\"]+)\" ]] && inc=${BASH_REMATCH[1]}
    resolve "${file%/*}" "$inc"
    checked=$((checked + 1))
    if [[ -z "$target" ]]; then
      violation "$file:$lineno: #include \"$inc\" resolves to no file under $folder, lib/, transports/ or include/"
      continue
    fi
    [[ "$target" == "$folder" ]] && continue
    case " $edges " in *" $folder>$target "*) ;; *) edges+=" $folder>$target" ;; esac
    if [[ "${allowed[$folder]}" != *" $target "* ]]; then
      violation "$file:$lineno: #include \"$inc\" ($target) breaks the rule \"$folder:${allowed[$folder]% }\""
    fi
  done < <(grep -nHE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$folder"/*.c "$folder"/*.h 2>/dev/null || true)
done

if ((checked == 0)); then
  echo "$0: found no quoted #include in the folders of $rules: wrong SOURCE_DIR?" >&2
  exit 2
fi

# Circles in the graph of the includes actually made: each printed once,
# starting at its smallest folder.
circles=$(tr " " "\n" <<<"$edges" | sort -u | awk -F">" '
  function add(v) { if (!(v in known)) { known[v] = 1; order[++nodes] = v } }
  NF == 2 { n[$1]++; adj[$1, n[$1]] = $2; add($1); add($2) }
  function dfs(v, depth,   i, w, k, c, s, best) {
    state[v] = 1; stack[depth] = v
    for (i = 1; i <= n[v]; i++) {
      w = adj[v, i]
      if (state[w] == 1) {                      # back edge: the circle is on the stack
        for (k = depth; stack[k] != w; k--) ;
        best = k
        for (c = k; c <= depth; c++) if (stack[c] < stack[best]) best = c
        s = ""
        for (c = 0; c <= depth - k; c++) s = s stack[k + (best - k + c) % (depth - k + 1)] " -> "
        s = s stack[best]
        if (!(s in seen)) { seen[s] = 1; print s }
      } else if (state[w] == 0) dfs(w, depth + 1)
    }
    state[v] = 2
  }
  END { for (i = 1; i <= nodes; i++) if (state[order[i]] == 0) dfs(order[i], 0) }' | sort)
if [[ -n "$circles" ]]; then
  while IFS= read -r c; do violation "circle: $c"; done <<<"$circles"
fi

if ((violations)); then
  echo "$violations include rule violation(s) (rules: $rules)"
  exit 1
fi
echo "ok: $checked includes in ${#folders[@]} folders follow $rules, no circles"
